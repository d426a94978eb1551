/**
 * For end-to-end tests: runs a real bot (`node --import tsx bot/main.ts`) as a child process
 * against a real server, reads its JSON log lines, and talks to the server as an admin would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Bot, Job, Json } from '../../core/types';
import { ADMIN_TOKEN, BOT_TOKEN, ROOT, waitFor } from '../../test/helpers/server-process';
import { testTime } from '../../test/helpers/time';

export interface LogLine {
  level: number;
  msg: string;
  event?: string;
  botId?: string;
  jobId?: string;
  [k: string]: unknown;
}

export interface BotProcess {
  id: string;
  proc: ChildProcess;
  output(): string;
  events(event?: string): LogLine[];
  waitForEvent(event: string, pred?: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends a signal and resolves with the exit code (null when killed by a signal). */
  signal(sig: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Fast settings for tests; every one can be overridden. */
const FAST_BOT_ENV: Record<string, string> = {
  HEARTBEAT_INTERVAL_MS: '200',
  PROCESSING_DURATION_MS: '100',
  FAILURE_RATE: '0',
  CLAIM_WAIT_MS: '5000',
  BACKOFF_MIN_MS: '50',
  BACKOFF_MAX_MS: '400',
  REQUEST_TIMEOUT_MS: '3000',
  BOT_SHUTDOWN_GRACE_MS: '5000',
  LOG_LEVEL: 'info',
  LOG_PRETTY: 'false',
  BOT_TOKEN,
};

export function startBot(serverUrl: string, id: string, env: Record<string, string> = {}): BotProcess {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bot', 'main.ts')], {
    cwd: ROOT,
    env: { ...(process.env as Record<string, string>), ...FAST_BOT_ENV, SERVER_URL: serverUrl, BOT_ID: id, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const lines: LogLine[] = [];
  let partial = '';
  proc.stdout!.on('data', (d: Buffer) => {
    out += d;
    partial += d;
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p) as LogLine);
      } catch {
        /* not a log line */
      }
    }
  });
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const bp: BotProcess = {
    id,
    proc,
    output: () => out,
    events: (event) => (event ? lines.filter((l) => l.event === event) : lines),
    async waitForEvent(event, pred = () => true, timeoutMs = 15000) {
      let found: LogLine | undefined;
      await waitFor(() => {
        found = lines.find((l) => l.event === event && pred(l));
        return found !== undefined;
      }, timeoutMs).catch(() => {
        throw new Error(`bot ${id}: no "${event}" log line within ${testTime(timeoutMs)} ms; output:\n${out}`);
      });
      return found!;
    },
    async signal(sig) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
      return exited;
    },
    exited,
  };
  return bp;
}

/** Admin and read calls against the server under test. */
export function serverApi(url: string) {
  const call = async <T>(method: string, p: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${url}${p}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  };
  const ok = async <T>(method: string, p: string, body?: unknown): Promise<T> => {
    const r = await call<T>(method, p, body);
    if (r.status >= 300) throw new Error(`${method} ${p} answered ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  return {
    call,
    createJob: (type: string, payload: Json = {}, extra: Record<string, unknown> = {}) =>
      ok<Job>('POST', '/jobs', { type, payload, ...extra }),
    createJobs: (jobs: { type: string; payload?: Json }[]) => ok<{ items: Job[] }>('POST', '/jobs', { jobs }),
    job: (id: string) =>
      ok<Job & { events: { from: string | null; to: string; botId: string | null; note: string | null }[] }>(
        'GET',
        `/jobs/${id}`,
      ),
    bot: (id: string) => call<Bot>('GET', `/bots/${id}`),
    bots: () => ok<{ items: Bot[] }>('GET', '/bots'),
    deleteBot: (id: string) => call<null>('DELETE', `/bots/${id}`),
    summary: () => ok<{ jobs: Record<string, number> }>('GET', '/metrics/summary'),
    /** Waits until the job is in one of the statuses and returns it. */
    async waitForJob(id: string, statuses: string[], timeoutMs = 15000) {
      let last: Job | undefined;
      await waitFor(async () => {
        last = await ok<Job>('GET', `/jobs/${id}`);
        return statuses.includes(last.status);
      }, timeoutMs).catch(() => {
        throw new Error(
          `job ${id} not in ${statuses.join('|')} within ${testTime(timeoutMs)} ms; last: ${JSON.stringify(last)}`,
        );
      });
      return last!;
    },
  };
}
