/**
 * Faults with real processes: the server restarting mid-job, SIGTERM mid-job (finished within the
 * grace period, or handed back unfinished for another bot), kill -9 mid-job (another bot finishes
 * it), a lease lost to the sweeper (409 on the report: result dropped, bot carries on).
 */
import fs from 'node:fs';
import path from 'node:path';
import { startBot, serverApi, type BotProcess, type LogLine } from '../bot/testing/bot-process';
import { startServer, waitFor, type ServerProcess } from './helpers/server-process';
import { testTime } from './helpers/time';

let sp: ServerProcess | undefined;
let bots: BotProcess[] = [];

async function server(env: Record<string, string>) {
  sp = await startServer({ env: { SWEEP_INTERVAL_MS: '200', ...env } });
  return { sp, api: serverApi(sp.url) };
}
function bot(id: string, env: Record<string, string> = {}): BotProcess {
  const b = startBot(sp!.url, id, env);
  bots.push(b);
  return b;
}

afterEach(async () => {
  await Promise.all(bots.map((b) => b.signal('SIGKILL')));
  bots = [];
  await sp?.kill();
});

test('survives a server restart mid-job: backs off, logs the outage once, reports when the server is back', async () => {
  const { sp, api } = await server({ BOT_DOWN_AFTER_MS: '20000', MAX_ATTEMPTS: '1' });
  const b = bot('fault-restart');
  await b.waitForEvent('registered');
  const job = await api.createJob('simulated', { durationMs: 1200 });
  await api.waitForJob(job.id, ['running']);
  await sp.stop();
  // The job ends while the server is down: the bot must hold the result and retry the report.
  await b.waitForEvent('server unreachable');
  await new Promise((r) => setTimeout(r, 2000));
  await sp.restart();
  const done = await api.waitForJob(job.id, ['completed', 'failed']);
  expect(done).toMatchObject({
    status: 'completed',
    botId: 'fault-restart',
    attempts: 1,
    result: { simulated: true, durationMs: 1200 },
  });
  await b.waitForEvent('server back');
  expect(b.events('server unreachable')).toHaveLength(1);
  expect(b.events('server back')).toHaveLength(1);
  // And it keeps working after the outage.
  const next = await api.createJob('fib', { n: 50 });
  expect((await api.waitForJob(next.id, ['completed'])).result).toMatchObject({ value: '12586269025' });
});

test('SIGTERM mid-job lets the job finish within the grace period, then exits 0', async () => {
  const { api } = await server({ BOT_DOWN_AFTER_MS: '20000', MAX_ATTEMPTS: '1' });
  const b = bot('fault-term-finish', { BOT_SHUTDOWN_GRACE_MS: '10000' });
  await b.waitForEvent('registered');
  const job = await api.createJob('simulated', { durationMs: 1000 });
  await api.waitForJob(job.id, ['running']);
  const exit = await b.signal('SIGTERM');
  expect(exit.code).toBe(0);
  expect(await api.job(job.id)).toMatchObject({ status: 'completed', botId: 'fault-term-finish' });
  expect(b.events('shutting down')[0]).toMatchObject({ jobId: job.id, signal: 'SIGTERM' });
});

/** The datalake lines the server has written for a job so far (one per finished attempt). */
function datalakeLines(dir: string, jobId: string): { status: string; attempt: number; botId: string }[] {
  const lake = path.join(dir, 'datalake');
  if (!fs.existsSync(lake)) return [];
  return fs
    .readdirSync(lake)
    .filter((n) => n.endsWith('.ndjson'))
    .flatMap((n) => fs.readFileSync(path.join(lake, n), 'utf8').split('\n'))
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { jobId: string; status: string; attempt: number; botId: string })
    .filter((l) => l.jobId === jobId);
}

test('SIGTERM mid-job past the grace period hands the job back unfinished: pending, the attempt not counted, another bot completes it', async () => {
  // MAX_ATTEMPTS=1: had the stopped run counted as an attempt, the job would end failed.
  const { sp, api } = await server({ BOT_DOWN_AFTER_MS: '20000', MAX_ATTEMPTS: '1' });
  const a = bot('fault-term-a', { BOT_SHUTDOWN_GRACE_MS: '300', PROCESSING_DURATION_MS: '60000' });
  await a.waitForEvent('registered');
  const job = await api.createJob('simulated');
  const before = job.attempts;
  await api.waitForJob(job.id, ['running']);
  const t0 = Date.now();
  const exit = await a.signal('SIGTERM');
  expect(exit.code).toBe(0);
  expect(Date.now() - t0).toBeLessThan(testTime(5000)); // not the job's 60 s
  const back = await api.job(job.id);
  expect(back).toMatchObject({ status: 'pending', attempts: before, botId: null });
  expect(back.events.filter((e) => e.from === 'running').map((e) => e.to)).toEqual(['pending']);
  expect(a.events('handed back')).toEqual([expect.objectContaining({ jobId: job.id, next: 'pending' })]);
  expect(a.events('failed')).toEqual([]);

  bot('fault-term-b', { PROCESSING_DURATION_MS: '100' });
  const done = await api.waitForJob(job.id, ['completed', 'failed']);
  expect(done).toMatchObject({ status: 'completed', botId: 'fault-term-b' });
  // One datalake line for the job, the completed one: the stopped run left none.
  await waitFor(() => datalakeLines(sp.dir, job.id).length > 0);
  await new Promise((r) => setTimeout(r, 300));
  expect(datalakeLines(sp.dir, job.id)).toEqual([
    expect.objectContaining({ status: 'completed', botId: 'fault-term-b' }),
  ]);
});

test('SIGTERM: the job that finishes within the grace period is reported; the next one its report claims goes straight back', async () => {
  const { api } = await server({ BOT_DOWN_AFTER_MS: '20000', MAX_ATTEMPTS: '1' });
  const b = bot('fault-term-next', { BOT_SHUTDOWN_GRACE_MS: '10000' });
  await b.waitForEvent('registered');
  const first = await api.createJob('simulated', { durationMs: 1000 });
  await api.waitForJob(first.id, ['running']);
  const second = await api.createJob('simulated', { durationMs: 1000 });
  expect((await b.signal('SIGTERM')).code).toBe(0);
  expect(await api.job(first.id)).toMatchObject({ status: 'completed', botId: 'fault-term-next' });
  // POST /jobs/next reports and claims in one call: the claimed job never ran and is pending again.
  expect(await api.job(second.id)).toMatchObject({ status: 'pending', attempts: second.attempts, botId: null });
  expect(b.events('handed back')).toEqual([expect.objectContaining({ jobId: second.id })]);
  expect(b.events('started').map((l) => l.jobId)).toEqual([first.id]);
});

test('SIGTERM with BOT_SHUTDOWN_GRACE_MS=0 hands the running job back at once', async () => {
  const { api } = await server({ BOT_DOWN_AFTER_MS: '20000', MAX_ATTEMPTS: '1' });
  const a = bot('fault-term-zero', { BOT_SHUTDOWN_GRACE_MS: '0', PROCESSING_DURATION_MS: '60000' });
  await a.waitForEvent('registered');
  const job = await api.createJob('simulated');
  await api.waitForJob(job.id, ['running']);
  expect((await a.signal('SIGTERM')).code).toBe(0);
  expect(await api.job(job.id)).toMatchObject({ status: 'pending', attempts: job.attempts });
  expect(a.events('handed back')).toHaveLength(1);
});

test('SIGTERM mid-job while the server is down: tries to hand the job back calmly, gives up after grace + 3 s, exits 0', async () => {
  const { sp, api } = await server({ BOT_DOWN_AFTER_MS: '20000', MAX_ATTEMPTS: '1' });
  const a = bot('fault-term-down', {
    BOT_SHUTDOWN_GRACE_MS: '500',
    PROCESSING_DURATION_MS: '60000',
    BACKOFF_MAX_MS: '300',
    LOG_LEVEL: 'debug',
  });
  await a.waitForEvent('registered');
  const job = await api.createJob('simulated');
  await api.waitForJob(job.id, ['running']);
  await sp.stop();
  const t0 = Date.now();
  const exit = await a.signal('SIGTERM');
  const took = Date.now() - t0;
  expect(exit.code).toBe(0);
  expect(took).toBeGreaterThanOrEqual(3000); // it kept trying to hand the job back after the grace period
  expect(took).toBeLessThan(3000 + testTime(3000)); // gave up, did not retry forever
  expect(a.events('hand-back abandoned')).toHaveLength(1); // the lease expiry hands the job back instead
  expect(a.events('retry').length).toBeLessThan(100); // backoff, not a spin
});

test('kill -9 mid-job: after BOT_DOWN_AFTER_MS another bot finishes the job', async () => {
  const { api } = await server({ BOT_DOWN_AFTER_MS: '1500', MAX_ATTEMPTS: '2' });
  const a = bot('fault-kill-a', { PROCESSING_DURATION_MS: '60000' });
  await a.waitForEvent('registered');
  const job = await api.createJob('simulated');
  await api.waitForJob(job.id, ['running']);
  const killedAt = Date.now();
  expect((await a.signal('SIGKILL')).signal).toBe('SIGKILL');
  bot('fault-kill-b', { PROCESSING_DURATION_MS: '100' });
  const done = await api.waitForJob(job.id, ['completed'], 20000);
  expect(done).toMatchObject({ botId: 'fault-kill-b', attempts: 2 });
  expect(Date.parse(done.claimedAt!) - killedAt).toBeGreaterThanOrEqual(1000);
  expect((await api.bot('fault-kill-a')).body.status).toBe('down');
});

// Either side may release it (the server on re-registration, or the bot after reading its own
// record); what matters is that nobody waits BOT_DOWN_AFTER_MS.
test('a bot restarted under the same id gets the job its killed predecessor held retried at once', async () => {
  const { api } = await server({ BOT_DOWN_AFTER_MS: '60000', MAX_ATTEMPTS: '2' });
  const a = bot('fault-same-id', { PROCESSING_DURATION_MS: '60000' });
  await a.waitForEvent('registered');
  const job = await api.createJob('simulated');
  await api.waitForJob(job.id, ['running']);
  await a.signal('SIGKILL');
  bot('fault-same-id', { PROCESSING_DURATION_MS: '100' });
  expect(await api.waitForJob(job.id, ['completed'], 10000)).toMatchObject({ botId: 'fault-same-id', attempts: 2 });
});

/**
 * The line a bot logs when it drops the work of a job taken from it: `lease lost` when a report or
 * its heartbeat found out, `stopped by server` when the heartbeat's answer or a progress or log call did.
 */
async function dropped(b: BotProcess, jobId: string, attempt: number) {
  const mine = (l: LogLine) =>
    l.jobId === jobId && l.attempt === attempt && (l.event === 'lease lost' || l.event === 'stopped by server');
  await waitFor(() => b.events().some(mine), 10000);
  return b.events().find(mine)!;
}

test('lease lost to the sweeper: 409 on the report, result dropped and logged, bot carries on', async () => {
  const { api } = await server({ BOT_DOWN_AFTER_MS: '800', MAX_ATTEMPTS: '2' });
  // Heartbeats far apart: the server takes the job back while the bot still works on it. Once it
  // knows, the slow bot asks for work only every 3 s without waiting.
  const slow = bot('fault-lease-slow', {
    HEARTBEAT_INTERVAL_MS: '60000',
    PROCESSING_DURATION_MS: '2500',
    CLAIM_WAIT_MS: '0',
    CLAIM_POLL_INTERVAL_MS: '3000',
  });
  await slow.waitForEvent('registered');
  const job = await api.createJob('simulated');
  await api.waitForJob(job.id, ['running']);
  // The job, once taken back, waits in the paused queue for the fast bot, which waits for work.
  await api.call('POST', '/queue/pause', {});
  const fast = bot('fault-lease-fast', { PROCESSING_DURATION_MS: '100' });
  await fast.waitForEvent('registered');
  // Told by a 409 on its report, or sooner on a progress or log call: either way the work is dropped.
  const lost = await dropped(slow, job.id, 1);
  if (lost.event === 'lease lost') expect(lost).toMatchObject({ step: 'complete', status: 409 });
  else expect(String(lost.reason)).toMatch(/^the server refused (progress|log lines): /);
  await api.call('POST', '/queue/resume', {});
  expect(await api.waitForJob(job.id, ['completed'], 15000)).toMatchObject({
    botId: 'fault-lease-fast',
    attempts: 2,
  });
  // The later result did not overwrite the one of the attempt that owns the job.
  expect(slow.events('completed').filter((l) => l.jobId === job.id)).toEqual([]);
  expect(await api.job(job.id)).toMatchObject({ status: 'completed', botId: 'fault-lease-fast', attempts: 2 });
  expect(slow.proc.exitCode).toBeNull();
  await waitFor(() => slow.events('registered').length >= 2, 10000);
});

test('a job taken back mid-run (bot deleted) stops at the next heartbeat instead of running to the end', async () => {
  const { api } = await server({ BOT_DOWN_AFTER_MS: '20000', MAX_ATTEMPTS: '3' });
  const a = bot('fault-taken', { PROCESSING_DURATION_MS: '60000', HEARTBEAT_INTERVAL_MS: '300' });
  await a.waitForEvent('registered');
  const job = await api.createJob('simulated');
  await api.waitForJob(job.id, ['running']);
  const t0 = Date.now();
  expect((await api.deleteBot('fault-taken')).status).toBe(204);
  const lost = await dropped(a, job.id, 1);
  expect(Date.now() - t0).toBeLessThan(testTime(3000)); // at a heartbeat, not at the job's end (60 s)
  expect(String(lost.reason)).toMatch(lost.event === 'lease lost' ? /^lease lost: / : /^the /);
  // It registered again and carries on: the job, back to pending, is claimed anew (attempt 2).
  await a.waitForEvent('started', (l) => l.jobId === job.id && l.attempt === 2, 5000);
  expect(
    a
      .events('completed')
      .concat(a.events('failed'))
      .filter((l) => l.jobId === job.id),
  ).toEqual([]);
});

// The bot aborts its long-poll on SIGTERM and exits. The server must notice the disconnect and stop
// claiming for it; otherwise the next job is claimed for a dead bot and, with MAX_ATTEMPTS=1, fails
// as "lease expired".
test('a bot stopped while waiting in a long-poll leaves no job claimed in its name', async () => {
  const { api } = await server({ BOT_DOWN_AFTER_MS: '60000', MAX_ATTEMPTS: '1' });
  const a = bot('fault-idle-stop', { CLAIM_WAIT_MS: '20000' });
  await a.waitForEvent('registered');
  await new Promise((r) => setTimeout(r, 300));
  expect((await a.signal('SIGTERM')).code).toBe(0);
  const job = await api.createJob('fib', { n: 1 });
  await new Promise((r) => setTimeout(r, 700));
  expect(await api.job(job.id)).toMatchObject({ status: 'pending', botId: null });
});
