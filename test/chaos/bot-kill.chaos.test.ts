/**
 * Kill -9 a random REAL bot process in the middle of a job, BOT_KILLS times (default 100)
 * over one run, replacing each killed bot with a new one (new BOT_ID, as a restarted pod). Then:
 * 0 jobs lost (all completed), 0 double completions (results table and datalake), every orphaned job
 * pending again within BOT_DOWN_AFTER_MS + SWEEP_INTERVAL_MS + 1 s of the kill (the release event's
 * time on the server). On SQLite and on PostgreSQL.
 */
import path from 'node:path';
import { startServer, waitFor, type ServerProcess } from '../helpers/server-process';
import {
  BotPool,
  CHAOS_SERVER_ENV,
  createJobs,
  discardServer,
  jobWithEvents,
  knob,
  printSummary,
  randomInt,
  request,
  sleep,
} from '../helpers/chaos';
import { checkInvariants, type DbView, describeEachBackend } from '../helpers/chaos-state';
import { testTime } from '../helpers/time';

const KILLS = knob('BOT_KILLS', 100);
const POOL = knob('BOT_KILL_POOL', 6);
const BOT_DOWN_AFTER_MS = 1000;
const SWEEP_INTERVAL_MS = 100;
const RELEASE_BOUND_MS = BOT_DOWN_AFTER_MS + SWEEP_INTERVAL_MS + 1000;

const SERVER_ENV = {
  ...CHAOS_SERVER_ENV,
  BOT_DOWN_AFTER_MS: String(BOT_DOWN_AFTER_MS),
  SWEEP_INTERVAL_MS: String(SWEEP_INTERVAL_MS),
  // A job may be orphaned several times; it must still end completed, not failed.
  MAX_ATTEMPTS: '50',
};
const BOT_ENV = {
  HEARTBEAT_INTERVAL_MS: '200',
  PROCESSING_DURATION_MS: '300',
  FAILURE_RATE: '0',
  CLAIM_WAIT_MS: '2000',
  LOG_LEVEL: 'info', // `completed` lines: what the server acknowledged
};

jest.setTimeout(testTime(240_000));

interface Kill {
  botId: string;
  jobId: string;
  killedAt: number;
}

async function run(label: string, sp: ServerProcess, openView: () => Promise<DbView>): Promise<void> {
  const pool = new BotPool(sp.url, `kill-${label}`, BOT_ENV);
  const jobIds = await createJobs(sp.url, 200);
  pool.fill(POOL);
  const kills: Kill[] = [];
  let killsNotMidJob = 0;
  try {
    // A deadline, so that a run that cannot find victims fails below instead of spawning bots forever.
    const deadline = Date.now() + testTime(150_000);
    while (kills.length < KILLS && Date.now() < deadline) {
      // Keep work queued, but only a little: what is queued when the kills end must still be drained.
      if (kills.length % 10 === 0) {
        const pending = (await request(sp.url, 'GET', '/metrics/summary')).json.jobs.pending as number;
        if (pending < 60) jobIds.push(...(await createJobs(sp.url, 100)));
      }
      const running = (await request(sp.url, 'GET', '/jobs?status=running&limit=100')).json.items as {
        id: string;
        botId: string;
      }[];
      const candidates = running.filter((j) => pool.live.has(j.botId));
      if (candidates.length === 0) {
        await sleep(30);
        continue;
      }
      const victim = candidates[randomInt(0, candidates.length - 1)];
      const killedAt = Date.now();
      await pool.kill(victim.botId);
      pool.spawn();
      // The dead bot cannot speak any more: what the server says it holds is what the sweeper must take back.
      const held = (await request(sp.url, 'GET', `/bots/${victim.botId}`)).json.currentJobId as string | null;
      if (held) kills.push({ botId: victim.botId, jobId: held, killedAt });
      else killsNotMidJob++; // it finished the job in the instant before the signal
      await sleep(randomInt(50, 250));
    }

    // Every job gets done by the survivors and replacements.
    await waitFor(
      async () => {
        const s = (await request(sp.url, 'GET', '/metrics/summary')).json.jobs;
        return s.completed + s.failed === jobIds.length;
      },
      90_000,
      200,
    );
  } finally {
    const exits = await pool.terminateAll();
    const bad = exits.filter((e) => e.code !== 0);
    if (bad.length) console.log(bad.map((e) => `${e.id}: ${e.code}/${e.signal}\n${e.output}`).join('\n'));
  }

  // Release delays, from the server's own events. A report the bot sent just before the signal may
  // still land after the kill (the server reads what reached its socket): then the bot finished its
  // attempt itself and there is nothing to release.
  const delays: number[] = [];
  const late: string[] = [];
  let finishedInFlight = 0;
  for (const k of kills) {
    const job = await jobWithEvents(sp.url, k.jobId);
    const mine = job.events.filter((e) => e.botId === k.botId && (e.from === 'claimed' || e.from === 'running'));
    const release = mine.find((e) => e.to === 'pending');
    if (!release) {
      if (mine.some((e) => e.to === 'completed' && e.note === null)) finishedInFlight++;
      else late.push(`${k.jobId}: no release of ${k.botId} in ${JSON.stringify(job.events)}`);
      continue;
    }
    const delay = Date.parse(release.at) - k.killedAt;
    delays.push(delay);
    if (delay > RELEASE_BOUND_MS) late.push(`${k.jobId}: released ${delay} ms after ${k.botId} was killed`);
  }
  // And no other job of a killed bot was left behind unreleased (e.g. claimed as it died).
  for (const k of kills) {
    const bot = (await request(sp.url, 'GET', `/bots/${k.botId}`)).json;
    expect(bot.status).toBe('down');
    expect(bot.currentJobId).toBeNull();
  }

  expect(await sp.stop()).toBe(0);
  const db = await openView();
  try {
    const inv = await checkInvariants(db, path.join(sp.dir, 'datalake'), jobIds, {
      requireFinished: true,
      acknowledged: pool.acknowledged(),
    });
    printSummary(`bot-kill ${label}`, {
      kills: kills.length + killsNotMidJob,
      midJob: kills.length,
      orphansReleased: delays.length,
      finishedInFlight,
      botsSpawned: pool.spawned,
      jobs: jobIds.length,
      completed: inv.counts.completed ?? 0,
      results: inv.results,
      maxReleaseMs: Math.max(...delays),
      meanReleaseMs: delays.reduce((a, b) => a + b, 0) / delays.length,
      boundMs: RELEASE_BOUND_MS,
    });
    expect(inv.problems).toEqual([]);
    expect(inv.counts.completed).toBe(jobIds.length); // 0 lost: each job completed, exactly once
    expect(late).toEqual([]);
    expect(kills.length).toBe(KILLS);
    expect(delays.length).toBeGreaterThanOrEqual(KILLS * 0.8); // most kills really orphan a job
  } finally {
    await db.close();
  }
}

describeEachBackend('kill -9 of real bots mid-job', (backend) => {
  let sp: ServerProcess | undefined;
  afterEach(async () => {
    await discardServer(sp);
    await backend.cleanup();
  });

  it(`${KILLS} kills: nothing lost or doubled, each orphan pending again within ${RELEASE_BOUND_MS} ms`, async () => {
    sp = await startServer({ env: { ...SERVER_ENV, ...backend.env } });
    const server = sp;
    await run(backend.name, server, () => backend.view(server));
  });
});
