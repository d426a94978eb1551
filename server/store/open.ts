/**
 * Opens the store named by DATABASE_URL: `sqlite://<path>` (relative to the working directory, or
 * absolute) or `postgres://user@host:port/db[?schema=name]`.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { startCheckpointer } from './checkpointer';
import { SqlStore } from './sql-store';
import { PgExecutor, SqliteExecutor } from './sql';
import type { Store, StoreOptions } from './types';

/** SQLite before 3.51.3 can corrupt a WAL database when a checkpoint races a reset (the WAL-reset bug). */
export const MIN_SQLITE_VERSION = '3.51.3';

export class StoreOpenError extends Error {}

export type DatabaseTarget =
  { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string; schema: string | null };

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

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/**
 * The server is the only writer of its SQLite file. It holds an exclusive lock on a companion file
 * for its whole life; the operating system drops the lock when the process dies, even by kill -9.
 */
export function takeWriterLock(file: string): Database.Database {
  const lock = new Database(`${file}.server-lock`, { timeout: 0 });
  try {
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('BEGIN EXCLUSIVE');
  } catch {
    lock.close();
    throw new StoreOpenError(
      `another server is already using ${file}: SQLite allows one server per database file. ` +
        'Stop the other server, point DATABASE_URL at another file, or use PostgreSQL for several servers.',
    );
  }
  return lock;
}

export interface OpenOptions extends StoreOptions {
  /** SQLite synchronous pragma: NORMAL (default) or FULL. */
  sqliteSynchronous?: 'NORMAL' | 'FULL';
  /** PostgreSQL pool size (default 10). */
  poolMax?: number;
  /** SQLite: a checkpoint in the background thread failed (reported once until one succeeds). */
  onCheckpointError?: (message: string) => void;
}

/** How often the background thread checkpoints the SQLite WAL (checkpointer.ts). */
export const CHECKPOINT_INTERVAL_MS = 100;
/**
 * The server's own connection checkpoints only past this many WAL pages (160 MB): a fallback for a
 * background thread that fell behind. Under load that thread keeps the WAL near 10,000 pages.
 */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 40_000;

let pgTypesSet = false;

export async function openStore(url: string, opts: OpenOptions): Promise<Store> {
  const target = parseDatabaseUrl(url);
  if (target.kind === 'sqlite') {
    fs.mkdirSync(path.dirname(target.file), { recursive: true });
    const lock = takeWriterLock(target.file);
    let db: Database.Database;
    try {
      db = new Database(target.file);
    } catch (err) {
      lock.close();
      throw new StoreOpenError(`cannot open SQLite file ${target.file}: ${(err as Error).message}`);
    }
    const version = (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
    if (compareVersions(version, MIN_SQLITE_VERSION) < 0) {
      db.close();
      lock.close();
      throw new StoreOpenError(
        `SQLite ${version} is older than ${MIN_SQLITE_VERSION} (WAL-reset corruption bug); upgrade better-sqlite3`,
      );
    }
    const synchronous = opts.sqliteSynchronous ?? 'NORMAL';
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
    db.pragma(`synchronous = ${synchronous}`);
    const checkpointer = startCheckpointer(target.file, {
      intervalMs: CHECKPOINT_INTERVAL_MS,
      synchronous,
      onError: opts.onCheckpointError,
    });
    return new SqlStore(new SqliteExecutor(db), opts, async () => {
      await checkpointer.stop();
      db.close();
      lock.close();
    });
  }

  if (!pgTypesSet) {
    // BIGINT (ms times, counts) and NUMERIC sums come back as strings by default.
    pg.types.setTypeParser(20, (v) => Number(v));
    pg.types.setTypeParser(1700, (v) => Number(v));
    pgTypesSet = true;
  }
  if (target.schema) {
    const admin = new pg.Client({ connectionString: target.url });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS ${target.schema}`);
    } finally {
      await admin.end();
    }
  }
  const pool = new pg.Pool({
    connectionString: target.url,
    max: opts.poolMax ?? 10,
    connectionTimeoutMillis: 5000,
    // The schema is a plain identifier (checked in parseDatabaseUrl).
    ...(target.schema ? { options: `-c search_path=${target.schema}` } : {}),
  });
  // An idle connection that dies (database restart) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return new SqlStore(new PgExecutor(pool), opts, () => pool.end());
}
