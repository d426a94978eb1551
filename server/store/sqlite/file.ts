/**
 * Opening a SQLite database file for the server: the single-writer lock, the SQLite version check,
 * WAL mode and its pragmas, and the background checkpoint thread (checkpointer.ts).
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { StoreOpenError } from '../types';
import { startCheckpointer } from './checkpointer';

/** SQLite before 3.51.3 can corrupt a WAL database when a checkpoint races a reset (the WAL-reset bug). */
const MIN_SQLITE_VERSION = '3.51.3';

/** How often the background thread checkpoints the WAL (checkpointer.ts). */
const CHECKPOINT_INTERVAL_MS = 100;
/**
 * The server's own connection checkpoints only past this many WAL pages (160 MB): a fallback for a
 * background thread that fell behind. Under load that thread keeps the WAL near 10,000 pages.
 */
const FALLBACK_AUTOCHECKPOINT_PAGES = 40_000;

export interface SqliteFileOptions {
  /** synchronous pragma: NORMAL (default) or FULL. */
  synchronous?: 'NORMAL' | 'FULL';
  /** A checkpoint in the background thread failed (reported once until one succeeds). */
  onCheckpointError?: (message: string) => void;
}

function versionAtLeast(version: string, min: string): boolean {
  const a = version.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
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

/** Opens `file` (made if missing) as this process's database: its connection and how to close it. */
export function openSqliteFile(
  file: string,
  o: SqliteFileOptions,
): { db: Database.Database; close: () => Promise<void> } {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const lock = takeWriterLock(file);
  let db: Database.Database;
  try {
    db = new Database(file);
  } catch (err) {
    lock.close();
    throw new StoreOpenError(`cannot open SQLite file ${file}: ${(err as Error).message}`);
  }
  const version = (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  if (!versionAtLeast(version, MIN_SQLITE_VERSION)) {
    db.close();
    lock.close();
    throw new StoreOpenError(
      `SQLite ${version} is older than ${MIN_SQLITE_VERSION} (WAL-reset corruption bug); upgrade better-sqlite3`,
    );
  }
  const synchronous = o.synchronous ?? 'NORMAL';
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
  db.pragma(`synchronous = ${synchronous}`);
  const checkpointer = startCheckpointer(file, {
    intervalMs: CHECKPOINT_INTERVAL_MS,
    synchronous,
    onError: o.onCheckpointError,
  });
  return {
    db,
    close: async () => {
      await checkpointer.stop();
      db.close();
      lock.close();
    },
  };
}
