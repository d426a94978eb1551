import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { storeContract, STORE_OPTS } from './store.contract';
import { openStore, parseDatabaseUrl, StoreOpenError } from './open';

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

  test('migration 3: a file from before it gets jobs_bot_seq over jobs with a bot only, and the bot queries use it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-'));
    dirs.push(dir);
    const store = await openStore(`sqlite://${path.join(dir, 'jobs.db')}`, STORE_OPTS);
    const ex = (store as unknown as { db: import('./sql').Executor }).db;
    const indexSql = async () => (await ex.run<{ sql: string }>(`SELECT sql FROM sqlite_master WHERE name = 'jobs_bot_seq'`)).rows[0].sql;
    await store.migrate();
    // As a file made before version 3: the full index, no record of version 3.
    await ex.run('DROP INDEX jobs_bot_seq');
    await ex.run('CREATE INDEX jobs_bot_seq ON jobs (bot_id, seq)');
    await ex.run('DELETE FROM schema_migrations WHERE version = 3');
    await store.migrate();
    expect(await indexSql()).toMatch(/WHERE bot_id IS NOT NULL$/);
    for (const q of ['SELECT * FROM jobs WHERE bot_id = ? ORDER BY seq DESC LIMIT 20', `SELECT * FROM jobs WHERE bot_id = ? AND status IN ('claimed', 'running')`]) {
      const plan = (await ex.run<{ detail: string }>(`EXPLAIN QUERY PLAN ${q}`, ['b'])).rows.map((r) => r.detail).join('; ');
      expect(plan).toContain('USING INDEX jobs_bot_seq');
    }
    await store.close();
  });

  test('DATABASE_URL parsing', () => {
    expect(parseDatabaseUrl('sqlite://./data/jobs.db', '/srv')).toEqual({ kind: 'sqlite', file: '/srv/data/jobs.db' });
    expect(parseDatabaseUrl('sqlite:///abs/x.db')).toEqual({ kind: 'sqlite', file: '/abs/x.db' });
    expect(parseDatabaseUrl('postgres://u@h:5432/db?schema=s1')).toEqual({ kind: 'postgres', url: 'postgres://u@h:5432/db', schema: 's1' });
    expect(() => parseDatabaseUrl('mysql://x')).toThrow(/sqlite:\/\/ or postgres:\/\//);
  });
});
