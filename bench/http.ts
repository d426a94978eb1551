/** Small HTTP helpers for the benchmark driver (the driver's own calls are not what is measured). */
import http from 'node:http';
import { ADMIN_TOKEN, BOT_TOKEN } from '../test/helpers/server-process';

export const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };
export const BOT = { authorization: `Bearer ${BOT_TOKEN}` };

export async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url, { headers: ADMIN });
  if (!r.ok) throw new Error(`GET ${url} answered ${r.status}: ${(await r.text()).slice(0, 300)}`);
  return (await r.json()) as T;
}

export async function postJson<T>(url: string, body: unknown, headers: Record<string, string> = ADMIN): Promise<T> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`POST ${url} answered ${r.status}: ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : null) as T;
}

/** Enqueues n no-op simulated jobs in batches of up to 10,000 (one transaction each). */
export async function enqueue(url: string, n: number, payload: Record<string, unknown> = {}): Promise<void> {
  for (let done = 0; done < n;) {
    const k = Math.min(10_000, n - done);
    await postJson(`${url}/jobs`, { jobs: Array.from({ length: k }, () => ({ type: 'simulated', payload })) });
    done += k;
  }
}

export interface SummaryLite {
  jobs: Record<string, number>;
  bots: Record<string, number>;
}

export const summary = (url: string) => getJson<SummaryLite>(`${url}/metrics/summary`);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** p-th percentile (0..100) of samples, nearest rank. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** Times `n` sequential calls of fn; returns the durations in ms. */
export async function timeCalls(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    out.push(performance.now() - t0);
  }
  return out;
}

/**
 * POST on node:http through the given keep-alive agent (one agent per connection a script wants):
 * the status, the parsed body and when the answer's last byte arrived (performance.now()).
 */
export function postOn<T>(
  agent: http.Agent,
  url: string,
  body: unknown,
  headers: Record<string, string> = ADMIN,
): Promise<{ status: number; body: T; at: number }> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(parts).toString() || 'null') as T,
            at: performance.now(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });

/**
 * POST on node:http with a kept-alive connection, for the pickup-latency measurement: fetch spends
 * ~0.5 ms of CPU before its bytes leave, which would be counted as the queue's latency (BullMQ's
 * add() goes out on an open Redis connection).
 */
export function postFast(url: string, body: unknown, headers: Record<string, string> = ADMIN): Promise<number> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent: keepAlive,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode && res.statusCode < 300
            ? resolve(res.statusCode)
            : reject(new Error(`POST ${url} answered ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}
