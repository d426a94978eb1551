/**
 * A poison job, one that kills every bot that runs it. The test plays the poison: it
 * watches the job (GET /jobs/:id) and sends SIGKILL to whichever REAL bot process holds it as soon as
 * it is claimed or running, replacing the bot with a new one. With maxAttempts 3 the job must end
 * `failed` with attempts exactly 3, and never be claimed a 4th time (watched for 2 s more), while
 * ordinary jobs around it still complete. On SQLite and on PostgreSQL.
 */
import path from 'node:path';
import { startServer, waitFor, type ServerProcess } from '../helpers/server-process';
import {
  BotPool,
  CHAOS_SERVER_ENV,
  createJobs,
  discardServer,
  jobWithEvents,
  printSummary,
  sleep,
} from '../helpers/chaos';
import { checkInvariants, describeEachBackend } from '../helpers/chaos-state';
import { testTime } from '../helpers/time';

const MAX_ATTEMPTS = 3;
const WATCH_AFTER_MS = 2000;

jest.setTimeout(testTime(120_000));

describeEachBackend('poison job that kills every bot running it', (backend) => {
  let sp: ServerProcess | undefined;
  let pool: BotPool | undefined;
  afterEach(async () => {
    await pool?.killAll();
    await discardServer(sp);
    await backend.cleanup();
  });

  it(`fails after exactly ${MAX_ATTEMPTS} attempts and is never claimed again`, async () => {
    sp = await startServer({
      env: {
        ...CHAOS_SERVER_ENV,
        BOT_DOWN_AFTER_MS: '1000',
        SWEEP_INTERVAL_MS: '100',
        MAX_ATTEMPTS: '5',
        ...backend.env,
      },
    });
    pool = new BotPool(sp.url, `poison-${backend.name}`, {
      HEARTBEAT_INTERVAL_MS: '200',
      PROCESSING_DURATION_MS: '1000',
      FAILURE_RATE: '0',
      CLAIM_WAIT_MS: '2000',
      LOG_LEVEL: 'warn',
    });
    // The poison first, so a bot takes it at once; ordinary jobs behind it (server default maxAttempts 5).
    const [poison] = await createJobs(sp.url, 1, { maxAttempts: MAX_ATTEMPTS, priority: 10 });
    const others = await createJobs(sp.url, 6);
    pool.fill(3);

    const killed: { botId: string; attempt: number }[] = [];
    const deadline = Date.now() + testTime(60_000);
    let job = await jobWithEvents(sp.url, poison);
    while (job.status !== 'failed' && Date.now() < deadline) {
      if ((job.status === 'claimed' || job.status === 'running') && job.botId && pool.live.has(job.botId)) {
        await pool.kill(job.botId);
        killed.push({ botId: job.botId, attempt: job.attempts });
        pool.spawn();
      }
      await sleep(20);
      job = await jobWithEvents(sp.url, poison);
    }
    const failedAt = Date.now();
    // Watch: no 4th claim, whatever the bots do meanwhile.
    while (Date.now() - failedAt < WATCH_AFTER_MS) {
      job = await jobWithEvents(sp.url, poison);
      expect(job.status).toBe('failed');
      expect(job.attempts).toBe(MAX_ATTEMPTS);
      await sleep(50);
    }

    const claims = job.events.filter((e) => e.to === 'claimed');
    const releases = job.events.filter(
      (e) => (e.from === 'claimed' || e.from === 'running') && (e.to === 'pending' || e.to === 'failed'),
    );
    expect(killed.map((k) => k.attempt)).toEqual([1, 2, 3]);
    expect(claims.map((e) => e.botId)).toEqual(killed.map((k) => k.botId));
    expect(releases.map((e) => e.to)).toEqual(['pending', 'pending', 'failed']);
    expect(releases.every((e) => e.note === 'lease expired')).toBe(true);

    // The ordinary jobs were not held up by the poison.
    await waitFor(
      async () =>
        (await Promise.all(others.map((id) => jobWithEvents(sp!.url, id)))).every((j) => j.status === 'completed'),
      30_000,
      200,
    );
    await pool.terminateAll();
    expect(await sp.stop()).toBe(0);
    const db = await backend.view(sp);
    try {
      const inv = await checkInvariants(db, path.join(sp.dir, 'datalake'), [poison, ...others], {
        requireFinished: true,
      });
      expect(inv.problems).toEqual([]);
      const rows = (await db.results()).filter((r) => r.jobId === poison);
      expect(rows.map((r) => [r.attempt, r.status])).toEqual([
        [1, 'failed'],
        [2, 'failed'],
        [3, 'failed'],
      ]);
      printSummary(`poison ${backend.name}`, {
        kills: killed.length,
        attempts: job.attempts,
        status: job.status,
        watchedMs: WATCH_AFTER_MS,
        otherJobsCompleted: others.length,
      });
    } finally {
      await db.close();
    }
  });
});
