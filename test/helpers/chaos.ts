/**
 * Shared parts of the chaos suite (test/chaos/*.chaos.test.ts): the server env, knobs and summary
 * line, requests with a timeout, job creation, and a pool of REAL bot processes that can be killed
 * and replaced. What a test checks at the end: chaos-state.ts.
 */
import fs from 'node:fs';
import { startBot, type BotProcess } from '../../bot/testing/bot-process';
import { ADMIN_TOKEN, BOT_TOKEN, VIEWER_TOKEN, type ServerProcess } from './server-process';
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
