/**
 * A lean client loop (child process of the benchmark): the bot protocol reduced to POST /jobs/next,
 * which reports the previous attempt and claims-and-starts the next job in one call. It does what a
 * bot with PROCESSING_DURATION_MS=0 does, without the bot's logging, heartbeats and retries, so it
 * shows what the route itself can do. With LATENCY=1 it sends each job's pickup latency to the
 * parent over IPC (payload.sentAt is the parent's wall clock in ms, fractional).
 *
 * HTTP=fetch (default) uses fetch; HTTP=node uses node:http with a keep-alive agent, which costs the
 * client less CPU per request (on a 2-core machine the clients share the cores with the server, so
 * client CPU is throughput); HTTP=socket uses the bot's own transport (bot/socket-transport.ts:
 * HTTP/1.1 written on a kept-alive socket), less again.
 *
 * Env: SERVER_URL, BOT_TOKEN, BOT_ID, WAIT_MS (long-poll, default 25000), LATENCY (0|1), HTTP (fetch|node|socket).
 */
import http from 'node:http';
import { z } from 'zod';
import { envInt, envString, loadOrExit, parseEnv } from '../core/config';
import { socketTransport } from '../bot/socket-transport';

const cfg = loadOrExit(() =>
  parseEnv(
    z.object({
      SERVER_URL: envString('http://127.0.0.1:3001'),
      BOT_ID: envString(`lean-${process.pid}`),
      WAIT_MS: envInt(25000, 0, 30000),
      LATENCY: envInt(0, 0, 1),
      HTTP: envString('fetch').pipe(z.enum(['fetch', 'node', 'socket'])),
      BOT_TOKEN: envString('bot-dev-token-change-me'),
    }),
    process.env,
  ),
);

const wallNow = () => performance.timeOrigin + performance.now();
const stop = new AbortController();
let done = 0;

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function postNode(path: string, body: unknown, signal?: AbortSignal): Promise<{ status: number; body: unknown }> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    // Our own abort listener, removed with each answer: http.request's `signal` option left one
    // listener per request on the long-lived signal (MaxListenersExceededWarning after ~1,500 jobs).
    const onAbort = () => req.destroy(new Error('aborted'));
    const settle =
      <A>(fn: (a: A) => void) =>
      (a: A) => {
        signal?.removeEventListener('abort', onAbort);
        fn(a);
      };
    const req = http.request(
      `${cfg.SERVER_URL}${path}`,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(data),
          authorization: `Bearer ${cfg.BOT_TOKEN}`,
        },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString();
          settle(resolve)({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null });
        });
        res.on('error', settle(reject));
      },
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', settle(reject));
    req.end(data);
  });
}

const socket = socketTransport();

async function postSocket(
  path: string,
  body: unknown,
  signal?: AbortSignal,
): Promise<{ status: number; body: unknown }> {
  const r = await socket(`${cfg.SERVER_URL}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${cfg.BOT_TOKEN}` },
    body: JSON.stringify(body),
    signal,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

async function post(path: string, body: unknown, signal?: AbortSignal): Promise<{ status: number; body: unknown }> {
  if (cfg.HTTP === 'node') return postNode(path, body, signal);
  if (cfg.HTTP === 'socket') return postSocket(path, body, signal);
  const r = await fetch(`${cfg.SERVER_URL}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${cfg.BOT_TOKEN}` },
    body: JSON.stringify(body),
    signal,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

interface NextReply {
  job: { id: string; attempts: number; payload: { sentAt?: number } } | null;
}

async function main(): Promise<void> {
  const reg = await post('/bots/register', { id: cfg.BOT_ID });
  if (reg.status >= 300) throw new Error(`register answered ${reg.status}`);
  process.send?.({ ready: true });
  let held: { jobId: string; attempt: number } | null = null;
  while (!stop.signal.aborted) {
    let r;
    try {
      r = await post(
        '/jobs/next',
        { botId: cfg.BOT_ID, waitMs: cfg.WAIT_MS, ...(held ? { complete: { ...held, result: null } } : {}) },
        stop.signal,
      );
    } catch (err) {
      if (stop.signal.aborted) break;
      throw err;
    }
    if (r.status !== 200) throw new Error(`POST /jobs/next answered ${r.status}: ${JSON.stringify(r.body)}`);
    if (held) done++;
    const job = (r.body as NextReply).job;
    held = job ? { jobId: job.id, attempt: job.attempts } : null;
    if (job && cfg.LATENCY && typeof job.payload.sentAt === 'number')
      process.send?.({ latencyMs: wallNow() - job.payload.sentAt });
  }
  // The job taken by the last answer is finished, so the server's counts add up.
  if (held) {
    await post(`/jobs/${held.jobId}/complete`, { botId: cfg.BOT_ID, attempt: held.attempt, result: null });
    done++;
  }
}

process.on('SIGTERM', () => stop.abort());
main().then(
  () => {
    process.send?.({ done });
    setTimeout(() => process.exit(0), 50);
  },
  (err: unknown) => {
    process.stderr.write(`lean worker failed: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
