/**
 * A real bot process against a real server process: registration, every handler through the
 * whole path with known answers, heartbeats while busy, long-poll pickup, re-registration after
 * DELETE /bots/:id.
 */
import fs from 'node:fs';
import os from 'node:os';
import type { Json } from '../core/types';
import { startBot, serverApi, type BotProcess } from '../bot/testing/bot-process';
import { startServer, waitFor, type ServerProcess } from './helpers/server-process';
import { testTime } from './helpers/time';

let sp: ServerProcess;
let api: ReturnType<typeof serverApi>;
const bots: BotProcess[] = [];

// Each test gets its own server and bots, so a job can only go to the bot the test expects.
beforeEach(async () => {
  // A bot silent for 1.5 s is down: heartbeats every 200 ms must keep a 2 s job alive.
  sp = await startServer({ env: { BOT_DOWN_AFTER_MS: '1500', SWEEP_INTERVAL_MS: '200', MAX_ATTEMPTS: '1' } });
  api = serverApi(sp.url);
});

afterEach(async () => {
  const exits = await Promise.all(bots.splice(0).map((b) => b.signal('SIGTERM')));
  await sp.kill();
  expect(exits.map((e) => e.code)).toEqual(exits.map(() => 0));
});

function bot(id: string, env: Record<string, string> = {}): BotProcess {
  const b = startBot(sp.url, id, env);
  bots.push(b);
  return b;
}

test('registers, runs each job type to its known answer, fails bad jobs clearly, logs each step', async () => {
  const b = bot('life-1');
  await b.waitForEvent('registered');
  expect((await api.bot('life-1')).status).toBe(200);

  const specs: { type: string; payload: Json }[] = [
    { type: 'hash', payload: { input: 'abc', iterations: 2 } },
    { type: 'primes', payload: { n: 1_000_000 } },
    { type: 'fib', payload: { n: 100 } },
    { type: 'simulated', payload: {} },
    { type: 'teleport', payload: {} },
    { type: 'primes', payload: { n: 'many' } },
  ];
  const jobs = await Promise.all(specs.map((s) => api.createJob(s.type, s.payload)));
  const done = await Promise.all(jobs.map((j) => api.waitForJob(j.id, ['completed', 'failed'])));

  expect(done.map((j) => [j.status, j.botId, j.attempts])).toEqual(
    specs.map((_, i) => [i < 4 ? 'completed' : 'failed', 'life-1', 1]),
  );
  expect(done[0].result).toEqual({
    algorithm: 'sha256',
    iterations: 2,
    hex: '4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358',
  });
  expect(done[1].result).toEqual({ n: 1_000_000, count: 78498 });
  expect(done[2].result).toEqual({ n: 100, value: '354224848179261915075', digits: 21 });
  expect(done[3].result).toEqual({ simulated: true, durationMs: 100 });
  expect(done[4].error).toBe('unknown job type "teleport"; this bot runs: fib, hash, primes, simulated');
  expect(done[5].error).toMatch(/^invalid payload for job type "primes": n: /);

  // One JSON line per event, each naming bot and job. The bot logs a job's end after the server
  // acknowledged it, so the last line may still be on its way through the pipe: wait for it.
  for (const [i, j] of jobs.entries()) await b.waitForEvent(done[i].status, (l) => l.jobId === j.id);
  for (const j of jobs) {
    const mine = b
      .events()
      .filter((l) => l.jobId === j.id && l.event !== 'job log')
      .map((l) => l.event);
    expect(mine).toEqual(['claimed', 'started', expect.stringMatching(/^(completed|failed)$/)]);
  }
  expect(b.events().every((l) => l.botId === 'life-1' || l.event === 'starting')).toBe(true);
  // `kubectl logs` tells the story in the messages too: registering, then each job by id.
  expect(b.events('registering')[0].msg).toBe(`registering with ${sp.url}`);
  const hash = jobs[0].id;
  expect(
    b
      .events()
      .filter((l) => l.jobId === hash)
      .map((l) => l.msg),
  ).toEqual([
    `claimed job ${hash} (hash, attempt 1)`,
    `started job ${hash}`,
    // The handler's own lines, which also go to the server (GET /jobs/:id/logs).
    'hashing 3 bytes, 2 round(s) of SHA-256',
    'digest 4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358',
    expect.stringMatching(new RegExp(`^completed job ${hash} in \\d+ ms$`)),
  ]);
});

test('heartbeats on its own timer while a job runs, so a 2 s job outlives a 1.5 s down-after', async () => {
  const b = bot('life-2', { LOG_LEVEL: 'debug' });
  await b.waitForEvent('registered');
  const job = await api.createJob('simulated', { durationMs: 2000 });
  await api.waitForJob(job.id, ['running']);
  const beats = new Set<string>();
  while ((await api.job(job.id)).status === 'running') {
    const r = await api.bot('life-2');
    if (r.body.currentJobId === job.id) {
      expect(r.body.status).toBe('busy');
      beats.add(r.body.lastHeartbeatAt);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const end = await api.job(job.id);
  expect(end.status).toBe('completed');
  expect(end.botId).toBe('life-2'); // never marked down: attempt 1 finished (MAX_ATTEMPTS=1)
  // The bot's own timer: ~9 heartbeats at 200 ms over the 2 s job, each one logged.
  expect(b.events('heartbeat').filter((l) => l.jobId === job.id).length).toBeGreaterThanOrEqual(5);
  // And the server saw them: its lastHeartbeatAt moved while the job ran (sampled every 100 ms,
  // so on a slow machine only a few of them).
  expect(beats.size).toBeGreaterThanOrEqual(2);
});

test('a waiting bot picks up a new job within milliseconds (long-poll, no busy loop)', async () => {
  // Without a long-poll the bot would ask again only after CLAIM_POLL_INTERVAL_MS: a minute.
  const b = bot('life-3', { CLAIM_WAIT_MS: '20000', CLAIM_POLL_INTERVAL_MS: '60000' });
  await b.waitForEvent('registered');
  await new Promise((r) => setTimeout(r, 500)); // let it settle into a long-poll
  const job = await api.createJob('fib', { n: 10 });
  const done = await api.waitForJob(job.id, ['completed']);
  expect(done.botId).toBe('life-3');
  const latency = Date.parse(done.claimedAt!) - Date.parse(done.createdAt);
  expect(latency).toBeLessThan(testTime(500));
});

test('a polling bot that hits the empty-claim rate limit (429) waits as told, logs no outage, still works', async () => {
  await sp.kill();
  sp = await startServer({ env: { RATE_LIMIT_EMPTY_CLAIMS_PER_S: '1' } });
  api = serverApi(sp.url);
  const b = bot('life-5', { CLAIM_WAIT_MS: '0', CLAIM_POLL_INTERVAL_MS: '10', LOG_LEVEL: 'debug' });
  await b.waitForEvent('registered');
  await new Promise((r) => setTimeout(r, 2500));
  const limited = b.events('retry').filter((l) => String(l.err).includes('answered 429'));
  expect(limited.length).toBeGreaterThanOrEqual(1);
  expect(limited.every((l) => Number(l.waitMs) >= 1000)).toBe(true); // Retry-After: 1
  expect(b.events('server unreachable')).toEqual([]);
  const job = await api.createJob('primes', { n: 100 });
  expect((await api.waitForJob(job.id, ['completed'])).result).toEqual({ n: 100, count: 25 });
});

test('registers again after DELETE /bots/:id and keeps working', async () => {
  const b = bot('life-4');
  await b.waitForEvent('registered');
  expect((await api.deleteBot('life-4')).status).toBe(204);
  await b.waitForEvent('registered', (l) => l.known === false && b.events('registered').indexOf(l) > 0);
  expect(b.events('unknown to server').length).toBeGreaterThanOrEqual(1);
  await waitFor(async () => (await api.bot('life-4')).status === 200);
  const job = await api.createJob('hash', { input: '' });
  const done = await api.waitForJob(job.id, ['completed']);
  expect(done.result).toMatchObject({ hex: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' });
});

test('BOT_NICE: the bot lowers its own CPU priority at start (10 by default), and says so', async () => {
  const niceOf = (pid: number) =>
    Number(
      fs
        .readFileSync(`/proc/${pid}/stat`, 'utf8')
        .replace(/^.*\) /s, '')
        .split(' ')[16],
    );
  const base = os.getPriority(); // the test runner's own niceness; a bot never goes below what it was started with
  const byDefault = bot('nice-default');
  const three = bot('nice-three', { BOT_NICE: String(Math.min(19, base + 3)) });
  const started = await Promise.all([byDefault, three].map((b) => b.waitForEvent('starting')));
  expect(started.map((l) => l.nice)).toEqual([Math.max(10, base), Math.min(19, base + 3)]);
  if (process.platform === 'linux')
    expect([niceOf(byDefault.proc.pid!), niceOf(three.proc.pid!)]).toEqual([
      Math.max(10, base),
      Math.min(19, base + 3),
    ]);
  await byDefault.waitForEvent('registered'); // and it works as ever
});
