/**
 * Shared parts of the chaos suite (test/chaos/*.chaos.test.ts): a pool of REAL bot processes that can
 * be killed and replaced, read-only views of the server's database (SQLite file or PostgreSQL schema)
 * and of its datalake folder, and the invariants every chaos test checks at the end.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { startBot, type BotProcess } from '../../bot/testing/bot-process';
import type { ResultLine } from '../../core/types';
import { ADMIN_TOKEN, BOT_TOKEN, VIEWER_TOKEN, type ServerProcess } from './server-process';
import { describePostgres, dropSchema, freshSchemaUrl, PG_BASE_URL } from './postgres';
import { testTime } from './time';

/** Server env every chaos test starts from: no scheduler, no rate limits (chaos tests hammer on purpose). */
export const CHAOS_SERVER_ENV: Record<string, string> = {
  POPULATE_INTERVAL_MS: '0',
  RATE_LIMIT_ADMIN_PER_S: '0',
  RATE_LIMIT_EMPTY_CLAIMS_PER_S: '0',
};

/** A numeric test knob from the environment; unset or empty means the default. */
export function knob(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return n;
}

/** One line per chaos test, on stderr so jest shows it even for a passing test. */
export function printSummary(test: string, fields: Record<string, unknown>): void {
  const parts = Object.entries(fields).map(
    ([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(1) : String(v)}`,
  );
  process.stderr.write(`chaos ${test}: ${parts.join(' ')}\n`);
}

/** Kills a test's server (if it started) and removes its folder: the teardown of every chaos test. */
export async function discardServer(sp: ServerProcess | undefined): Promise<void> {
  if (!sp) return;
  await sp.kill();
  fs.rmSync(sp.dir, { recursive: true, force: true });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const randomInt = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));

/**
 * The server's log lines at error or fatal level, each shortened to what names the failure: message,
 * error code, route, and PostgreSQL's "where" (the statement that hit a lock, say).
 */
export function serverErrors(output: string): string[] {
  const out: string[] = [];
  for (const line of output.split('\n')) {
    if (!/"level":(50|60)/.test(line)) continue;
    try {
      const l = JSON.parse(line) as {
        msg?: string;
        path?: string;
        err?: { code?: string; message?: string; where?: string } | string;
      };
      const err = typeof l.err === 'object' ? l.err : { message: l.err };
      const route = l.path?.replace(/\/[0-9a-f]{8}-[0-9a-f-]{27}(?=\/|$)/g, '/:id');
      out.push(
        [
          l.msg,
          err.code,
          route,
          (err.message ?? '').slice(0, 80),
          (err.where ?? '').split('\n')[0].replace(/\(\d+,\d+\)/g, '(…)'),
        ]
          .filter(Boolean)
          .join(' | '),
      );
    } catch {
      out.push(line.slice(0, 200));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------- HTTP

export interface Reply {
  status: number;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

/** One request with a timeout; network errors reject (the caller decides whether the server is away). */
export async function request(
  base: string,
  method: string,
  route: string,
  body?: unknown,
  opts: { admin?: boolean; timeoutMs?: number } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  // An admin call, else a read as the viewer or a bot's call.
  headers.authorization = `Bearer ${opts.admin ? ADMIN_TOKEN : method === 'GET' ? VIEWER_TOKEN : BOT_TOKEN}`;
  const res = await fetch(`${base}${route}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(opts.timeoutMs ?? testTime(10_000)),
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, json, text };
}

/** Creates `count` simulated jobs in batches of 500; returns their ids. */
export async function createJobs(base: string, count: number, extra: Record<string, unknown> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 500) {
    const n = Math.min(500, count - i);
    const r = await request(
      base,
      'POST',
      '/jobs',
      { jobs: Array.from({ length: n }, (_, k) => ({ type: 'simulated', payload: { n: i + k }, ...extra })) },
      { admin: true },
    );
    if (r.status !== 201) throw new Error(`POST /jobs answered ${r.status}: ${r.text}`);
    ids.push(...(r.json.items as { id: string }[]).map((j) => j.id));
  }
  return ids;
}

export interface JobEventView {
  at: string;
  from: string | null;
  to: string;
  botId: string | null;
  note: string | null;
}

export async function jobWithEvents(
  base: string,
  id: string,
): Promise<{ id: string; status: string; attempts: number; botId: string | null; events: JobEventView[] }> {
  const r = await request(base, 'GET', `/jobs/${id}`);
  if (r.status !== 200) throw new Error(`GET /jobs/${id} answered ${r.status}: ${r.text}`);
  return r.json;
}

// ---------------------------------------------------------------------------------------- bots

/**
 * Real bot processes (`bot/main.ts`). A killed bot is replaced by one with a NEW id, as a pod
 * restarted by a Deployment would be, so the pool stays full.
 */
export class BotPool {
  readonly live = new Map<string, BotProcess>();
  /** Every bot this pool ever started, dead or alive: their logs tell what the server acknowledged. */
  readonly all: BotProcess[] = [];
  private seq = 0;
  spawned = 0;

  /** `vary` adds env per bot (by its number), e.g. to mix the two claim protocols in one pool. */
  constructor(
    private readonly serverUrl: string,
    private readonly prefix: string,
    private readonly env: Record<string, string>,
    private readonly vary: (n: number) => Record<string, string> = () => ({}),
  ) {}

  spawn(): BotProcess {
    const n = ++this.seq;
    const id = `${this.prefix}-${n}`;
    const b = startBot(this.serverUrl, id, { ...this.env, ...this.vary(n) });
    this.live.set(id, b);
    this.all.push(b);
    this.spawned++;
    void b.exited.then(() => this.live.delete(id));
    return b;
  }

  fill(n: number): void {
    while (this.live.size < n) this.spawn();
  }

  /** kill -9; resolves once the process is gone. */
  async kill(id: string): Promise<void> {
    const b = this.live.get(id);
    if (!b) return;
    this.live.delete(id);
    await b.signal('SIGKILL');
  }

  /** SIGTERM to every bot; resolves with each exit. */
  async terminateAll(): Promise<{ id: string; code: number | null; signal: string | null; output: string }[]> {
    const all = [...this.live.values()];
    return Promise.all(all.map(async (b) => ({ id: b.id, ...(await b.signal('SIGTERM')), output: b.output() })));
  }

  async killAll(): Promise<void> {
    await Promise.all([...this.live.keys()].map((id) => this.kill(id)));
  }

  /**
   * Completions the server acknowledged (200), from the bots' own `completed` log lines (bots must
   * log at info): jobId → attempt. None of them may be lost, whatever crashed afterwards.
   */
  acknowledged(): Map<string, number> {
    const out = new Map<string, number>();
    for (const b of this.all) for (const l of b.events('completed')) if (l.jobId) out.set(l.jobId, Number(l.attempt));
    return out;
  }
}

// ---------------------------------------------------------------------------------------- database

export interface ResultRowView {
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

export function sqliteView(file: string): DbView {
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
