/**
 * What the chaos tests check at the end: read-only views of the server's database (SQLite file or
 * PostgreSQL schema) and of its datalake folder, the invariants every chaos test checks, and the
 * backends a chaos test runs on.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { ResultLine } from '../../core/types';
import type { ServerProcess } from './server-process';
import { describePostgres, dropSchema, freshSchemaUrl, PG_BASE_URL } from './postgres';

// ---------------------------------------------------------------------------------------- database

interface ResultRowView {
  resultId: string;
  jobId: string;
  attempt: number;
  status: string;
  written: number;
}

/** Read-only questions the chaos tests ask the server's database, on either backend. */
export interface DbView {
  statusCounts(): Promise<Record<string, number>>;
  results(): Promise<ResultRowView[]>;
  /** SQLite: PRAGMA integrity_check; PostgreSQL: 'ok' (it has no such check; its WAL is its own). */
  integrity(): Promise<string>;
  close(): Promise<void>;
}

function sqliteView(file: string): DbView {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  return {
    async statusCounts() {
      const rows = db.prepare('SELECT status, COUNT(*) AS n FROM jobs GROUP BY status').all() as {
        status: string;
        n: number;
      }[];
      return Object.fromEntries(rows.map((r) => [r.status, r.n]));
    },
    async results() {
      return db
        .prepare('SELECT result_id AS resultId, job_id AS jobId, attempt, status, written FROM results ORDER BY seq')
        .all() as ResultRowView[];
    },
    async integrity() {
      return (db.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check;
    },
    async close() {
      db.close();
    },
  };
}

export async function postgresView(schema: string): Promise<DbView> {
  const c = new pg.Client({ connectionString: PG_BASE_URL, application_name: 'chaos-test-view' });
  await c.connect();
  await c.query(`SET search_path TO ${schema}`);
  return {
    async statusCounts() {
      const r = await c.query<{ status: string; n: string }>('SELECT status, COUNT(*) AS n FROM jobs GROUP BY status');
      return Object.fromEntries(r.rows.map((x) => [x.status, Number(x.n)]));
    },
    async results() {
      const r = await c.query(
        'SELECT result_id AS "resultId", job_id AS "jobId", attempt, status, written FROM results ORDER BY seq',
      );
      return r.rows.map((x) => ({ ...x, attempt: Number(x.attempt), written: Number(x.written) })) as ResultRowView[];
    },
    async integrity() {
      return 'ok';
    },
    async close() {
      await c.end();
    },
  };
}

// ---------------------------------------------------------------------------------------- datalake

export interface LakeView {
  lines: ResultLine[];
  /** Files whose last byte is not "\n" (a torn tail). */
  tornFiles: string[];
  /** Lines that are not JSON. */
  badLines: number;
}

export function readLake(dir: string): LakeView {
  const out: LakeView = { lines: [], tornFiles: [], badLines: 0 };
  if (!fs.existsSync(dir)) return out;
  for (const name of fs
    .readdirSync(dir)
    .filter((n) => /^results-\d{4}-\d{2}-\d{2}\.ndjson$/.test(n))
    .sort()) {
    const text = fs.readFileSync(path.join(dir, name), 'utf8');
    if (text !== '' && !text.endsWith('\n')) out.tornFiles.push(name);
    for (const raw of text.split('\n').filter(Boolean)) {
      try {
        out.lines.push(JSON.parse(raw) as ResultLine);
      } catch {
        out.badLines++;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------- invariants

export interface InvariantReport {
  counts: Record<string, number>;
  results: number;
  problems: string[];
}

/**
 * What every chaos run must end with: every job accounted for, at most one completion per job, one
 * result row per finished attempt (no attempt finished twice), and the datalake equal to the results
 * table line for line. Returns the problems found, so a test shows them all at once.
 */
export async function checkInvariants(
  db: DbView,
  lakeDir: string,
  jobIds: string[],
  opts: { requireFinished?: boolean; requireWritten?: boolean; acknowledged?: Map<string, number> } = {},
): Promise<InvariantReport> {
  const problems: string[] = [];
  const integrity = await db.integrity();
  if (integrity !== 'ok') problems.push(`integrity_check: ${integrity}`);
  const counts = await db.statusCounts();
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  if (total !== jobIds.length) problems.push(`jobs in the database: ${total}, created: ${jobIds.length}`);
  if (opts.requireFinished) {
    const open = (counts.pending ?? 0) + (counts.claimed ?? 0) + (counts.running ?? 0);
    if (open !== 0) problems.push(`${open} jobs not finished: ${JSON.stringify(counts)}`);
  }
  const rows = await db.results();
  const completions = new Map<string, number>();
  const attempts = new Set<string>();
  for (const r of rows) {
    const key = `${r.jobId}:${r.attempt}`;
    if (attempts.has(key)) problems.push(`attempt ${key} finished twice`);
    attempts.add(key);
    if (r.status === 'completed') completions.set(r.jobId, (completions.get(r.jobId) ?? 0) + 1);
  }
  const rowStatus = new Map(rows.map((r) => [r.resultId, r.status]));
  const lostAcks = [...(opts.acknowledged ?? [])].filter(
    ([job, attempt]) => rowStatus.get(`${job}:${attempt}`) !== 'completed',
  );
  if (lostAcks.length)
    problems.push(
      `${lostAcks.length} acknowledged completions missing, e.g. ${lostAcks
        .slice(0, 3)
        .map(([j, a]) => `${j}:${a}`)
        .join(' ')}`,
    );
  const doubles = [...completions].filter(([, n]) => n > 1);
  if (doubles.length)
    problems.push(`${doubles.length} jobs completed more than once, e.g. ${doubles.slice(0, 3).join(' ')}`);
  if ((counts.completed ?? 0) !== completions.size)
    problems.push(`completed jobs ${counts.completed ?? 0} but jobs with a completed result ${completions.size}`);
  if (opts.requireWritten ?? true) {
    const unwritten = rows.filter((r) => r.written !== 1).length;
    if (unwritten) problems.push(`${unwritten} result rows not marked written`);
  }
  const lake = readLake(lakeDir);
  if (lake.tornFiles.length) problems.push(`torn datalake files: ${lake.tornFiles.join(', ')}`);
  if (lake.badLines) problems.push(`${lake.badLines} datalake lines are not JSON`);
  const lakeIds = lake.lines.map((l) => l.resultId);
  const lakeSet = new Set(lakeIds);
  if (lakeSet.size !== lakeIds.length) problems.push(`${lakeIds.length - lakeSet.size} duplicate datalake lines`);
  const rowIds = new Set(rows.map((r) => r.resultId));
  const missing = [...rowIds].filter((id) => !lakeSet.has(id));
  const extra = [...lakeSet].filter((id) => !rowIds.has(id));
  if (missing.length)
    problems.push(`${missing.length} result rows without a datalake line, e.g. ${missing.slice(0, 3).join(' ')}`);
  if (extra.length)
    problems.push(`${extra.length} datalake lines without a result row, e.g. ${extra.slice(0, 3).join(' ')}`);
  const rowById = new Map(rows.map((r) => [r.resultId, r]));
  const lakeCompletions = new Map<string, number>();
  for (const l of lake.lines)
    if (l.status === 'completed') lakeCompletions.set(l.jobId, (lakeCompletions.get(l.jobId) ?? 0) + 1);
  const lakeDoubles = [...lakeCompletions].filter(([, n]) => n > 1);
  if (lakeDoubles.length)
    problems.push(
      `${lakeDoubles.length} jobs with more than one completed datalake line, e.g. ${lakeDoubles.slice(0, 3).join(' ')}`,
    );
  for (const l of lake.lines) {
    const row = rowById.get(l.resultId);
    if (row && row.status !== l.status) problems.push(`line ${l.resultId} says ${l.status}, the row ${row.status}`);
  }
  return { counts, results: rows.length, problems };
}

// ---------------------------------------------------------------------------------------- backends

/** Where a chaos test's server keeps its state: its own SQLite file, or its own PostgreSQL schema. */
export interface Backend {
  name: 'sqlite' | 'postgres';
  /** Extra server env (DATABASE_URL for PostgreSQL; startServer picks the SQLite file itself). */
  env: Record<string, string>;
  view(sp: ServerProcess): Promise<DbView>;
  cleanup(): Promise<void>;
}

/** Runs `fn` in a describe block for SQLite and in one for PostgreSQL (skipped without it, outside CI). */
export function describeEachBackend(title: string, fn: (backend: Backend) => void): void {
  describe(`${title} [sqlite]`, () =>
    fn({
      name: 'sqlite',
      env: {},
      view: async (sp) => sqliteView(path.join(sp.dir, 'jobs.db')),
      cleanup: async () => {},
    }));
  describePostgres(`${title} [postgres]`, () => {
    const { url, schema } = freshSchemaUrl('chaos');
    fn({
      name: 'postgres',
      env: { DATABASE_URL: url },
      view: () => postgresView(schema),
      cleanup: () => dropSchema(schema),
    });
  });
}
