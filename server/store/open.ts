/**
 * Opens the store named by DATABASE_URL: `sqlite://<path>` (relative to the working directory, or
 * absolute) or `postgres://user@host:port/db[?schema=name]`. The one place that picks a database.
 */
import path from 'node:path';
import pg from 'pg';
import { PostgresStore } from './postgres/store';
import { openSqliteFile } from './sqlite/file';
import { SqliteStore } from './sqlite/store';
import { type Store, StoreOpenError, type StoreOptions } from './types';

export interface PostgresTarget {
  url: string;
  /** The schema every table lives in (`?schema=`), null for the connection's default. */
  schema: string | null;
}

type DatabaseTarget = { kind: 'sqlite'; file: string } | ({ kind: 'postgres' } & PostgresTarget);

export function parseDatabaseUrl(url: string, cwd = process.cwd()): DatabaseTarget {
  if (url.startsWith('sqlite://')) {
    const p = url.slice('sqlite://'.length);
    if (!p) throw new StoreOpenError('DATABASE_URL sqlite:// needs a file path, e.g. sqlite://./data/jobs.db');
    return { kind: 'sqlite', file: path.resolve(cwd, p) };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const u = new URL(url);
    const schema = u.searchParams.get('schema');
    u.searchParams.delete('schema');
    if (schema !== null && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
      throw new StoreOpenError('DATABASE_URL ?schema= must be a plain lower-case identifier');
    return { kind: 'postgres', url: u.toString(), schema };
  }
  throw new StoreOpenError(`DATABASE_URL must start with sqlite:// or postgres://, got "${url.split(':')[0]}:"`);
}

export interface OpenOptions extends StoreOptions {
  /** SQLite synchronous pragma: NORMAL (default) or FULL. */
  sqliteSynchronous?: 'NORMAL' | 'FULL';
  /** PostgreSQL pool size (default 10). */
  poolMax?: number;
  /** SQLite: a checkpoint in the background thread failed (reported once until one succeeds). */
  onCheckpointError?: (message: string) => void;
}

export async function openStore(url: string, opts: OpenOptions): Promise<Store> {
  const target = parseDatabaseUrl(url);
  const options = {
    defaultMaxAttempts: opts.defaultMaxAttempts,
    defaultTimeoutMs: opts.defaultTimeoutMs,
    botDownAfterMs: opts.botDownAfterMs,
  };
  if (target.kind === 'postgres') return new PostgresStore(postgresPool(target, opts.poolMax ?? 10), target, options);
  const { db, close } = openSqliteFile(target.file, {
    synchronous: opts.sqliteSynchronous,
    onCheckpointError: opts.onCheckpointError,
  });
  return new SqliteStore(db, target.file, options, close);
}

let typesSet = false;
/** A pool on `target`: BIGINT and NUMERIC as numbers, the schema (made by migrate()) first on the search path. */
function postgresPool(target: PostgresTarget, poolMax: number): pg.Pool {
  if (!typesSet) {
    pg.types.setTypeParser(20, (v) => Number(v)); // BIGINT: ms times and counts
    pg.types.setTypeParser(1700, (v) => Number(v)); // NUMERIC: sums
    typesSet = true;
  }
  const pool = new pg.Pool({
    connectionString: target.url,
    max: poolMax,
    connectionTimeoutMillis: 5000,
    // The schema is a plain identifier (checked in parseDatabaseUrl).
    ...(target.schema ? { options: `-c search_path=${target.schema}` } : {}),
  });
  // An idle connection that dies (database restart) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}
