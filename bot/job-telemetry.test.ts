/**
 * What the bot sends about a running job, through the real client against a local HTTP responder:
 * progress throttled with the last one always sent, log lines batched and bounded, and a 409 that
 * stops the handler.
 */
import http from 'node:http';
import type net from 'node:net';
import { silentLogger } from '../core/logger';
import type { Job } from '../core/types';
import { BOT_TOKEN, waitFor } from '../test/helpers/server-process';
import { ApiClient } from './api-client';
import { JobTelemetry } from './job-telemetry';

type Seen = { path: string; body: Record<string, unknown> };
let server: http.Server;
let seen: Seen[];
let status: number;

const job = { id: 'j1', attempts: 2 } as Job;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const parsed = JSON.parse(body) as Record<string, unknown>;
      seen.push({ path: req.url!, body: parsed });
      res.writeHead(status, { 'content-type': 'application/json' });
      const lines = (parsed.lines as unknown[] | undefined)?.length ?? 0;
      res.end(
        JSON.stringify(
          status === 200
            ? { stored: lines, dropped: 0, full: false }
            : { error: { code: 'not_your_job', message: 'it is cancelled' } },
        ),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  seen = [];
  status = 200;
});

function telemetry(onStopped: (d: string) => void = () => undefined) {
  const port = (server.address() as net.AddressInfo).port;
  const api = new ApiClient({ baseUrl: `http://127.0.0.1:${port}`, requestTimeoutMs: 5000, token: BOT_TOKEN });
  return new JobTelemetry({ api, botId: 'b1', job, log: silentLogger(), onStopped });
}
const progressSent = () => seen.filter((s) => s.path === '/jobs/j1/progress').map((s) => s.body.fraction);

test('progress: the first goes out, later ones within the second wait, and the last is sent before the result', async () => {
  const t = telemetry();
  t.progress(0.1, 'first');
  await waitFor(() => progressSent().length === 1);
  for (let i = 2; i <= 9; i++) t.progress(i / 10);
  await t.finish();
  expect(progressSent()).toEqual([0.1, 0.9]);
  expect(seen[0].body).toEqual({ botId: 'b1', attempt: 2, fraction: 0.1, message: 'first' });
});

test('log lines: batches of at most 500, at most 1,000 waiting, the rest counted as dropped', async () => {
  const t = telemetry();
  for (let i = 0; i < 1200; i++) t.log.info(`line ${i}`);
  await t.finish();
  const posts = seen.filter((s) => s.path === '/jobs/j1/logs').map((s) => s.body);
  expect(posts.every((p) => (p.lines as unknown[]).length <= 500 && p.attempt === 2)).toBe(true);
  const lines = posts.flatMap((p) => p.lines as { line: string; level: string }[]);
  expect(lines.map((l) => l.line)).toEqual(Array.from({ length: 1000 }, (_, i) => `line ${i}`));
  expect(lines[0].level).toBe('info');
  expect(posts.reduce((n, p) => n + (p.dropped as number), 0)).toBe(200);
});

test('a 409 stops the handler and nothing more is sent', async () => {
  status = 409;
  const stopped: string[] = [];
  const t = telemetry((d) => stopped.push(d));
  t.log.warn('one');
  t.progress(0.5);
  await waitFor(() => stopped.length === 1);
  expect(stopped[0]).toMatch(/^the server refused (progress|log lines): it is cancelled$/);
  const count = seen.length;
  t.log.info('two');
  t.progress(0.6);
  await t.finish();
  expect(seen.length).toBe(count);
});
