/**
 * SIGTERM to REAL bots and to the REAL server in the middle of a run.
 *  1. Bots: fast ones (job shorter than the grace period) finish their job; slow ones (longer) hand
 *     it back unfinished (POST /jobs/:id/release), which makes it pending again. Either way every job they
 *     held is finished or released within BOT_SHUTDOWN_GRACE_MS (+ slack for a loaded machine), no job
 *     stays claimed or running, and every bot exits 0.
 *  2. Server: SIGTERM while bots work; it exits 0 with the datalake flushed (every result row written
 *     and one line each). The bots, now without a server, exit 0 on SIGTERM too.
 *  3. A new server on the same state and new bots finish the rest: every invariant holds.
 * On SQLite and on PostgreSQL.
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
  request,
} from '../helpers/chaos';
import { checkInvariants, describeEachBackend } from '../helpers/chaos-state';
import { testTime } from '../helpers/time';

const GRACE_MS = 1500;
/** A bot may need one more report round trip after the grace period; the machine is shared. */
const SLACK_MS = 1000;
/** What runner.ts allows a report after the grace period (SHUTDOWN_REPORT_MS) plus the log flush. */
const EXIT_BOUND_MS = GRACE_MS + 3000 + 1500;
const JOBS = 120;

jest.setTimeout(testTime(180_000));

const botEnv = (processingMs: number) => ({
  HEARTBEAT_INTERVAL_MS: '200',
  PROCESSING_DURATION_MS: String(processingMs),
  FAILURE_RATE: '0',
  CLAIM_WAIT_MS: '2000',
  BOT_SHUTDOWN_GRACE_MS: String(GRACE_MS),
  BACKOFF_MIN_MS: '50',
  BACKOFF_MAX_MS: '300',
  LOG_LEVEL: 'warn',
});

async function finishedCount(url: string): Promise<number> {
  const j = (await request(url, 'GET', '/metrics/summary')).json.jobs;
  return j.completed + j.failed;
}

/** SIGTERM every bot of the pool at once; each must exit 0 within EXIT_BOUND_MS. */
async function terminate(pool: BotPool): Promise<number> {
  const t0 = Date.now();
  const exits = await pool.terminateAll();
  const slowest = Date.now() - t0;
  expect(
    exits.filter((e) => e.code !== 0).map((e) => `${e.id} exited ${e.code}/${e.signal}: ${e.output.slice(-600)}`),
  ).toEqual([]);
  expect(slowest).toBeLessThanOrEqual(EXIT_BOUND_MS);
  return slowest;
}

describeEachBackend('SIGTERM to bots and server mid-run', (backend) => {
  let sp: ServerProcess | undefined;
  const pools: BotPool[] = [];
  afterEach(async () => {
    for (const p of pools) await p.killAll();
    await discardServer(sp);
    await backend.cleanup();
  });

  it('every job finished or released within the grace period, the datalake flushed, every exit 0', async () => {
    sp = await startServer({
      env: {
        ...CHAOS_SERVER_ENV,
        MAX_ATTEMPTS: '5',
        BOT_DOWN_AFTER_MS: '2000',
        SWEEP_INTERVAL_MS: '100',
        ...backend.env,
      },
    });
    const server = sp;
    const jobIds = await createJobs(server.url, JOBS);

    // ---- 1. SIGTERM to bots mid-job
    const fast = new BotPool(server.url, `term-fast-${backend.name}`, botEnv(300));
    const slow = new BotPool(server.url, `term-slow-${backend.name}`, botEnv(8000));
    pools.push(fast, slow);
    fast.fill(3);
    slow.fill(2);
    const held = async () => {
      const items: { id: string; botId: string; status: string }[] = [];
      for (const status of ['claimed', 'running'])
        items.push(...(await request(server.url, 'GET', `/jobs?status=${status}&limit=100`)).json.items);
      return items;
    };
    // Wait until the slow bots are inside their long jobs and the fast ones have done some work.
    await waitFor(
      async () =>
        (await finishedCount(server.url)) >= 10 &&
        (await held()).filter((j) => j.botId.startsWith('term-slow')).length === 2,
      30_000,
      50,
    );
    const before = await held();
    const t0 = Date.now();
    const [fastExit, slowExit] = await Promise.all([terminate(fast), terminate(slow)]);
    const open = await held();
    expect(open).toEqual([]); // nothing left for the lease sweeper

    const settleMs: number[] = [];
    const outcome = { finished: 0, released: 0 };
    for (const j of before) {
      const job = await jobWithEvents(server.url, j.id);
      const end = job.events.find(
        (e) =>
          e.botId === j.botId &&
          (e.from === 'claimed' || e.from === 'running') &&
          e.to !== 'running' &&
          Date.parse(e.at) >= t0 - 50,
      );
      expect(end).toBeDefined();
      const ms = Date.parse(end!.at) - t0;
      settleMs.push(ms);
      expect(ms).toBeLessThanOrEqual(GRACE_MS + SLACK_MS);
      if (end!.to === 'completed') outcome.finished++;
      else {
        expect(end!.to).toBe('pending');
        expect(end!.note).not.toBe('lease expired'); // handed back by the bot, not taken back by the sweeper
        outcome.released++;
      }
      if (j.botId.startsWith('term-slow')) expect(end!.to).toBe('pending'); // 8 s of work cannot fit in the grace period
    }

    // ---- 2. SIGTERM to the server mid-run
    const second = new BotPool(server.url, `term-b-${backend.name}`, botEnv(200));
    pools.push(second);
    second.fill(4);
    const mark = await finishedCount(server.url);
    await waitFor(async () => (await finishedCount(server.url)) >= mark + 10, 30_000, 50);
    const tStop = Date.now();
    expect(await server.stop()).toBe(0);
    const serverStopMs = Date.now() - tStop;
    const mid = await backend.view(server);
    try {
      const inv = await checkInvariants(mid, path.join(server.dir, 'datalake'), jobIds, {
        requireFinished: false,
        requireWritten: true,
      });
      expect(inv.problems).toEqual([]); // flushed: every result row written, one line each, no torn tail
    } finally {
      await mid.close();
    }
    const orphanedExit = await terminate(second); // server gone: they give up reporting at the deadline, still exit 0

    // ---- 3. A new server and new bots finish the run
    await server.restart();
    const third = new BotPool(server.url, `term-c-${backend.name}`, botEnv(100));
    pools.push(third);
    third.fill(4);
    await waitFor(async () => (await finishedCount(server.url)) === JOBS, 60_000, 200);
    await terminate(third);
    expect(await server.stop()).toBe(0);
    const db = await backend.view(server);
    try {
      const inv = await checkInvariants(db, path.join(server.dir, 'datalake'), jobIds, { requireFinished: true });
      expect(inv.problems).toEqual([]);
      expect(inv.counts.completed).toBe(JOBS);
      printSummary(`sigterm ${backend.name}`, {
        heldAtSigterm: before.length,
        finishedInGrace: outcome.finished,
        handedBack: outcome.released,
        maxSettleMs: Math.max(...settleMs),
        graceMs: GRACE_MS,
        botExitMs: Math.max(fastExit, slowExit),
        serverStopMs,
        botsWithoutServerExitMs: orphanedExit,
        jobs: JOBS,
        results: inv.results,
      });
    } finally {
      await db.close();
    }
  });
});
