/**
 * Handing a job back (POST /jobs/:id/release) as the bot's side of the contract reads it, against a
 * local HTTP responder that answers as told: 200 Job (pending again), 409 (no longer ours), 503 and
 * no server at all (retry until the shutdown deadline). The real server and a real bot process
 * run it end to end in test/bot-faults.test.ts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { systemClock } from '../core/clock';
import type { Job } from '../core/types';
import { BOT_TOKEN, freePort } from '../test/helpers/server-process';
import { ApiClient } from './api-client';
import { JobReports } from './job-reports';
import { Retrier } from './retry';
import { ServerLink } from './server-link';
import { realSleep } from './sleep';

let server: http.Server;
let base: string;
let answers: ((res: http.ServerResponse) => void)[];
let seen: [string, unknown][];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push([req.url!, JSON.parse(body)]);
      (answers.shift() ?? answers[0])(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  seen = [];
  answers = [];
});

const job = { id: 'job-7', type: 'simulated', attempts: 3, status: 'running' } as Job;
const reply = (status: number, body: unknown) => (res: http.ServerResponse) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

function setup(url = base) {
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _enc, cb) {
        lines.push(JSON.parse(String(chunk)));
        cb();
      },
    }),
  );
  const api = new ApiClient({ baseUrl: url, requestTimeoutMs: 2000, token: BOT_TOKEN });
  const retrier = new Retrier({
    link: new ServerLink(log, systemClock),
    log,
    clock: systemClock,
    sleep: realSleep,
    backoffMinMs: 20,
    backoffMaxMs: 100,
    deadline: () => Infinity,
  });
  const reports = new JobReports(api, 'bot-1', retrier);
  const events = () => lines.map((l) => l.event).filter((e) => e !== 'retry' && e !== undefined);
  return { reports, lines, events, log: log.child({ jobId: job.id }) };
}

test('200: the job is pending again; logged as handed back and counted', async () => {
  answers = [reply(200, { ...job, status: 'pending', botId: null })];
  const { reports, lines, events, log } = setup();
  await reports.handBack(job, log, () => true);
  expect(seen).toEqual([['/jobs/job-7/release', { botId: 'bot-1', attempt: 3 }]]);
  expect(events()).toEqual(['handed back']);
  expect(lines.find((l) => l.event === 'handed back')).toMatchObject({
    jobId: 'job-7',
    next: 'pending',
    msg: 'handed back job job-7 unfinished',
  });
  expect(reports.counts.handedBack).toBe(1);
});

test('409: the job is no longer ours; logged once, not retried, not counted', async () => {
  answers = [reply(409, { error: { code: 'lease_lost', message: 'job job-7 is not running under bot-1' } })];
  const { reports, lines, events, log } = setup();
  await reports.handBack(job, log, () => true);
  expect(seen).toHaveLength(1);
  expect(events()).toEqual(['hand-back refused']);
  expect(lines.find((l) => l.event === 'hand-back refused')).toMatchObject({ status: 409, code: 'lease_lost' });
  expect(reports.counts.handedBack).toBe(0);
});

test('503 then 200: retried with backoff until the server answers', async () => {
  answers = [
    reply(503, { error: { code: 'unavailable', message: 'db down' } }),
    reply(503, { error: { code: 'unavailable', message: 'db down' } }),
    reply(200, { ...job, status: 'pending', botId: null }),
  ];
  const { reports, events, log } = setup();
  await reports.handBack(job, log, () => true);
  expect(seen).toHaveLength(3);
  expect(events()).toEqual(['server unreachable', 'server back', 'handed back']);
});

test('no server: retries until the deadline, then gives up and says the lease expiry will release the job', async () => {
  const { reports, lines, events, log } = setup(`http://127.0.0.1:${await freePort()}`);
  const deadline = Date.now() + 600;
  const t0 = Date.now();
  await reports.handBack(job, log, () => Date.now() < deadline);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(550);
  expect(lines.filter((l) => l.event === 'retry').length).toBeGreaterThan(1);
  expect(events()).toEqual(['server unreachable', 'hand-back abandoned']);
  expect(reports.counts.handedBack).toBe(0);
});
