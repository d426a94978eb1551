/**
 * `npm run backup`: an online backup of the SQLite database (SQLite's backup API, safe while the
 * server runs), a check of a backup, and a restore. PostgreSQL users back up with pg_dump.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { envString, handleHelp, loadOrExit, parseEnv } from '../core/config';
import { parseDatabaseUrl } from './store/open';
import { takeWriterLock } from './store/sqlite/file';

const HELP = `Usage:
  npm run backup                        back up DATABASE_URL to ./backups/jobs-<UTC time>.db (server may run)
  npm run backup -- --out <file>        back up to <file>
  npm run backup -- --verify <file>     integrity check and row counts of a backup
  npm run backup -- --restore <file>    replace DATABASE_URL's file with <file> (the server must be stopped)

Environment: DATABASE_URL (default sqlite://./data/jobs.db). Prints one JSON line with the file,
its size, PRAGMA integrity_check and the row counts. Exit 0 on success, 1 on any failure.
The datalake (DATALAKE_DIR) is plain append-only files: copy it with cp or rsync; at start-up the
server re-checks it against the database.`;

export interface BackupReport {
  file: string;
  bytes: number;
  integrity: string;
  counts: Record<'jobs' | 'bots' | 'results' | 'events', number>;
}

/** Integrity and counts of a database file, opened read-only. */
export function inspect(file: string): BackupReport {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const integrity = (db.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check;
    const count = (t: string) => (db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n;
    return {
      file,
      bytes: fs.statSync(file).size,
      integrity,
      counts: { jobs: count('jobs'), bots: count('bots'), results: count('results'), events: count('job_events') },
    };
  } finally {
    db.close();
  }
}

/** Copies the live database to `out` page by page; the server keeps running. */
export async function backup(source: string, out: string): Promise<BackupReport> {
  if (!fs.existsSync(source)) throw new Error(`no database at ${source}`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.partial`;
  const db = new Database(source, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    await db.backup(tmp);
  } finally {
    db.close();
  }
  const report = inspect(tmp);
  if (report.integrity !== 'ok') throw new Error(`backup failed its integrity check: ${report.integrity}`);
  fs.renameSync(tmp, out);
  return { ...report, file: out };
}

/** Replaces the database with a verified backup. Refuses while a server holds the database. */
export function restore(backupFile: string, target: string): BackupReport {
  const checked = inspect(backupFile);
  if (checked.integrity !== 'ok') throw new Error(`${backupFile} fails its integrity check: ${checked.integrity}`);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const lock = takeWriterLock(target); // throws with a clear message while a server runs
  try {
    const tmp = `${target}.restoring`;
    fs.copyFileSync(backupFile, tmp);
    // A write-ahead log of the old database must never be replayed onto the restored one.
    for (const suffix of ['-wal', '-shm']) fs.rmSync(`${target}${suffix}`, { force: true });
    fs.renameSync(tmp, target);
  } finally {
    lock.close();
  }
  return { ...inspect(target), file: target };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  handleHelp(argv, HELP);
  const env = loadOrExit(() => parseEnv(z.object({ DATABASE_URL: envString('sqlite://./data/jobs.db') }), process.env));
  const target = parseDatabaseUrl(env.DATABASE_URL);
  if (target.kind !== 'sqlite') throw new Error('npm run backup is for SQLite; back up PostgreSQL with pg_dump');
  const arg = (name: string) => {
    const i = argv.indexOf(name);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (!v || v.startsWith('--')) throw new Error(`${name} needs a file`);
    return v;
  };
  let report: BackupReport;
  const verify = arg('--verify');
  const from = arg('--restore');
  if (verify) report = inspect(verify);
  else if (from) report = restore(from, target.file);
  else {
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
    report = await backup(target.file, arg('--out') ?? path.resolve('backups', `jobs-${stamp}.db`));
  }
  process.stdout.write(`${JSON.stringify(report)}\n`);
  if (report.integrity !== 'ok') process.exit(1);
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`backup: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
