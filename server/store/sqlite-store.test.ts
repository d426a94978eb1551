import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PRE_V4_INDEXES, storeContract, STORE_OPTS } from './store.contract';
import {
  CHECKPOINT_INTERVAL_MS,
  FALLBACK_AUTOCHECKPOINT_PAGES,
  openStore,
  parseDatabaseUrl,
  StoreOpenError,
} from './open';
import { HELD_SQL } from './job-writes';
import { nextRunAtSql, SWEEP_SQL } from './sql-store';
import { testTime } from '../../test/helpers/time';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

storeContract('SQLite file', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-'));
  dirs.push(dir);
  return openStore(`sqlite://${path.join(dir, 'jobs.db')}`, STORE_OPTS);
});

describe('SQLite specifics', () => {
  test('a second store on the same file is refused with a clear message; free again after close', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-'));
    dirs.push(dir);
    const url = `sqlite://${path.join(dir, 'jobs.db')}`;
    const first = await openStore(url, STORE_OPTS);
    await expect(openStore(url, STORE_OPTS)).rejects.toThrow(/another server is already using .*jobs\.db/);
    await expect(openStore(url, STORE_OPTS)).rejects.toBeInstanceOf(StoreOpenError);
    await first.close();
    const second = await openStore(url, STORE_OPTS);
    await second.close();
  });

  test('WAL journal mode and the bundled SQLite is new enough', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-'));
    dirs.push(dir);
    const store = await openStore(`sqlite://${path.join(dir, 'jobs.db')}`, STORE_OPTS);
    const ex = (store as unknown as { db: import('./sql').Executor }).db;
    expect((await ex.run<{ journal_mode: string }>('PRAGMA journal_mode')).rows[0].journal_mode).toBe('wal');
    await store.close();
  });

  test('WAL checkpoints run in the background thread: the database file fills while the server only appends to the WAL', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-'));
    dirs.push(dir);
    const file = path.join(dir, 'jobs.db');
    const store = await openStore(`sqlite://${file}`, STORE_OPTS);
    await store.migrate();
    const ex = (store as unknown as { db: import('./sql').Executor }).db;
    // The server's own connection would checkpoint only past the fallback size, far above this test's WAL.
    expect((await ex.run<{ wal_autocheckpoint: number }>('PRAGMA wal_autocheckpoint')).rows[0].wal_autocheckpoint).toBe(
      FALLBACK_AUTOCHECKPOINT_PAGES,
    );
    const before = fs.statSync(file).size;
    await store.createJobs(
      Array.from({ length: 3000 }, () => ({ type: 'simulated', payload: { pad: 'x'.repeat(200) }, priority: 0 })),
      Date.now(),
    );
    const walFrames = Math.floor(fs.statSync(`${file}-wal`).size / 4120);
    expect(walFrames).toBeGreaterThan(100);
    expect(walFrames).toBeLessThan(FALLBACK_AUTOCHECKPOINT_PAGES);
    // Within a few intervals the thread has copied the pages back into the database file.
    const deadline = Date.now() + testTime(5000);
    while (fs.statSync(file).size < before + 100 * 4096 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, CHECKPOINT_INTERVAL_MS));
    expect(fs.statSync(file).size).toBeGreaterThan(before + 100 * 4096);
    await store.close();
    // Closed: the last connection checkpointed and removed the WAL, so the thread's connection is gone too.
    expect(fs.existsSync(`${file}-wal`)).toBe(false);
  });

  test("migration 3: a file from before it gets jobs_bot_seq over jobs with a bot only; listing a bot's jobs uses it, finding the jobs it holds does not", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-'));
    dirs.push(dir);
    const store = await openStore(`sqlite://${path.join(dir, 'jobs.db')}`, STORE_OPTS);
    const ex = (store as unknown as { db: import('./sql').Executor }).db;
    const indexSql = async () =>
      (await ex.run<{ sql: string }>(`SELECT sql FROM sqlite_master WHERE name = 'jobs_bot_seq'`)).rows[0].sql;
    await store.migrate();
    // As a file made before version 3: the full index, no record of version 3.
    await ex.run('DROP INDEX jobs_bot_seq');
    await ex.run('CREATE INDEX jobs_bot_seq ON jobs (bot_id, seq)');
    await ex.run('DELETE FROM schema_migrations WHERE version = 3');
    await store.migrate();
    expect(await indexSql()).toMatch(/WHERE bot_id IS NOT NULL$/);
    const plan = async (q: string, bindings: unknown[]) =>
      (await ex.run<{ detail: string }>(`EXPLAIN QUERY PLAN ${q}`, bindings)).rows.map((r) => r.detail).join('; ');
    // Listing a bot's jobs walks its entries, newest first.
    expect(await plan('SELECT * FROM jobs WHERE bot_id = ? ORDER BY seq DESC LIMIT 20', ['b'])).toContain(
      'USING INDEX jobs_bot_seq',
    );
    // Finding the jobs it holds (a release, a heartbeat's lease) does not: that would read its whole history.
    for (const [q, bindings] of [
      [HELD_SQL.select, ['b']],
      [HELD_SQL.extendLease, [0, 'b']],
    ] as const) {
      const p = await plan(q, [...bindings]);
      expect(p).toContain('USING INDEX jobs_status_seq');
      expect(p).not.toContain('jobs_bot_seq');
    }
    await store.close();
  });

  test('migration 4: a file from before it loses the sweeper-only indexes, and the sweeper still finds its rows through an index', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-'));
    dirs.push(dir);
    const store = await openStore(`sqlite://${path.join(dir, 'jobs.db')}`, STORE_OPTS);
    const ex = (store as unknown as { db: import('./sql').Executor }).db;
    const indexes = async () =>
      (
        await ex.run<{ name: string }>(
          `SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ('jobs_active_lease', 'jobs_active_deadline', 'bots_heartbeat')`,
        )
      ).rows.map((r) => r.name);
    await store.migrate();
    // As a file made before version 4: the three indexes, no record of version 4.
    for (const ddl of PRE_V4_INDEXES) await ex.run(ddl);
    await ex.run('DELETE FROM schema_migrations WHERE version = 4');
    expect(await indexes()).toHaveLength(3);
    await store.migrate();
    expect(await indexes()).toEqual([]);
    for (const q of [SWEEP_SQL.expiredLeases, SWEEP_SQL.overdueJobs]) {
      const plan = (await ex.run<{ detail: string }>(`EXPLAIN QUERY PLAN ${q}`, [0])).rows
        .map((r) => r.detail)
        .join('; ');
      expect(plan).toContain('USING INDEX jobs_status_seq');
    }
    await store.close();
  });

  test('migration 5: a file from before it gets jobs_delayed, and nextRunAt steps into it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-'));
    dirs.push(dir);
    const store = await openStore(`sqlite://${path.join(dir, 'jobs.db')}`, STORE_OPTS);
    const ex = (store as unknown as { db: import('./sql').Executor }).db;
    const has = async () =>
      (await ex.run(`SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'jobs_delayed'`)).rows.length === 1;
    await store.migrate();
    await ex.run('DROP INDEX jobs_delayed');
    await ex.run('DELETE FROM schema_migrations WHERE version = 5');
    expect(await has()).toBe(false);
    await store.migrate();
    expect(await has()).toBe(true);
    const plan = (await ex.run<{ detail: string }>(`EXPLAIN QUERY PLAN ${nextRunAtSql('sqlite')}`, [0])).rows
      .map((r) => r.detail)
      .join('; ');
    expect(plan).toMatch(/SEARCH jobs USING (COVERING )?INDEX jobs_delayed \(run_at>\?\)/);
    expect(plan).not.toContain('TEMP B-TREE'); // no sort: the first entry is the answer
    await store.close();
  });

  test('DATABASE_URL parsing', () => {
    expect(parseDatabaseUrl('sqlite://./data/jobs.db', '/srv')).toEqual({ kind: 'sqlite', file: '/srv/data/jobs.db' });
    expect(parseDatabaseUrl('sqlite:///abs/x.db')).toEqual({ kind: 'sqlite', file: '/abs/x.db' });
    expect(parseDatabaseUrl('postgres://u@h:5432/db?schema=s1')).toEqual({
      kind: 'postgres',
      url: 'postgres://u@h:5432/db',
      schema: 's1',
    });
    expect(() => parseDatabaseUrl('mysql://x')).toThrow(/sqlite:\/\/ or postgres:\/\//);
  });
});
