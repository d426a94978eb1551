/**
 * The real PostgreSQL on this machine (127.0.0.1:5432, user postgres, database test). Each test run
 * gets its own schema so runs never collide. With CI=true a missing PostgreSQL fails the run; elsewhere
 * its tests skip with one line.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { testTime } from './time';

export const PG_BASE_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A DATABASE_URL for a fresh schema. */
export function freshSchemaUrl(prefix = 't'): { url: string; schema: string } {
  const schema = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  return { url: `${PG_BASE_URL}?schema=${schema}`, schema };
}

export async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_BASE_URL });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await c.end();
  }
}

/**
 * describe() when PostgreSQL answers; under CI=true it must answer, elsewhere the block is skipped
 * with a one-line message.
 */
export function describePostgres(name: string, fn: () => void): void {
  const available = PG_AVAILABLE;
  if (available) {
    describe(name, fn);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      test('PostgreSQL must be reachable under CI', () => {
        throw new Error(`PostgreSQL at ${PG_BASE_URL} did not answer; CI requires it`);
      });
    });
  } else {
    describe.skip(`${name} (skipped: no PostgreSQL at ${PG_BASE_URL})`, fn);
    console.log(`skipping ${name}: no PostgreSQL answers at ${PG_BASE_URL}`);
  }
}

/** Checked synchronously at module load, so describe blocks can decide (jest has no async describe). */
function probeSync(): boolean {
  try {
    execFileSync(
      process.execPath,
      [
        '-e',
        `const pg=require('pg');const c=new pg.Client({connectionString:${JSON.stringify(PG_BASE_URL)},connectionTimeoutMillis:${testTime(2000)}});c.connect().then(()=>c.query('select 1')).then(()=>process.exit(0),()=>process.exit(1))`,
      ],
      {
        stdio: 'ignore',
        timeout: testTime(5000),
      },
    );
    return true;
  } catch {
    return false;
  }
}
export const PG_AVAILABLE = probeSync();
