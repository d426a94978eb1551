/**
 * Kill -9 the REAL server at SERVER_KILLS (default 20, on PostgreSQL too) random moments of a
 * SERVER_KILL_JOBS (default 5,000, on PostgreSQL too) job run worked by REAL bot processes, restarting it on the same
 * database and datalake each time. After every kill (server dead): PRAGMA integrity_check is ok and
 * pending + claimed + running + finished = all jobs. At the end: every job finished, at most one
 * completion per job, every completion a bot saw acknowledged (its own log) still there, one result
 * row per finished attempt, and the datalake equal to the results
 * table line for line (same resultIds, no duplicates, no torn tail). Half the bots use POST /jobs/next,
 * half claim/start/complete. On SQLite and on PostgreSQL.
 */
import path from 'node:path';
import { startServer, waitFor, type ServerProcess } from '../helpers/server-process';
import {
  BotPool,
  CHAOS_SERVER_ENV,
  createJobs,
  discardServer,
  knob,
  printSummary,
  request,
  serverErrors,
  sleep,
} from '../helpers/chaos';
import { checkInvariants, describeEachBackend } from '../helpers/chaos-state';
import { testTime } from '../helpers/time';

// PostgreSQL runs a shorter course by default: each transaction is a network round trip away, and
// the suite must stay within 10 minutes on a 2-core machine. Both can be raised with the env knobs.
const SIZES = {
  sqlite: { kills: knob('SERVER_KILLS', 20), jobs: knob('SERVER_KILL_JOBS', 5000) },
  postgres: { kills: knob('SERVER_KILLS_PG', 20), jobs: knob('SERVER_KILL_JOBS_PG', 5000) },
};
const BOTS = 8;

jest.setTimeout(testTime(420_000));

describeEachBackend('kill -9 of the server during a run worked by real bots', (backend) => {
  const { kills: KILLS, jobs: JOBS } = SIZES[backend.name];
  let sp: ServerProcess | undefined;
  let pool: BotPool | undefined;
  afterEach(async () => {
    await pool?.killAll();
    await discardServer(sp);
    await backend.cleanup();
  });

  it(`${KILLS} kills over ${JOBS} jobs: integrity ok, every job accounted for, database and datalake agree`, async () => {
    sp = await startServer({
      env: {
        ...CHAOS_SERVER_ENV,
        MAX_ATTEMPTS: '3',
        BOT_DOWN_AFTER_MS: '5000',
        SWEEP_INTERVAL_MS: '200',
        ...backend.env,
      },
    });
    const server = sp;
    const jobIds = await createJobs(server.url, JOBS);
    pool = new BotPool(server.url, `srvkill-${backend.name}`, {
      HEARTBEAT_INTERVAL_MS: '500',
      PROCESSING_DURATION_MS: '0',
      FAILURE_RATE: '0.1',
      CLAIM_WAIT_MS: '1000',
      BACKOFF_MIN_MS: '20',
      BACKOFF_MAX_MS: '200',
      REQUEST_TIMEOUT_MS: '3000',
      LOG_LEVEL: 'info', // their `completed` lines are the acknowledgements checked at the end
    });
    pool.fill(BOTS);

    // Kill when the number of finished jobs crosses each of KILLS random points of the run.
    const points = Array.from({ length: KILLS }, () => Math.floor(Math.random() * JOBS * 0.9)).sort((a, b) => a - b);
    const finished = async () => {
      const j = (await request(server.url, 'GET', '/metrics/summary')).json.jobs;
      return j.completed + j.failed;
    };
    const downMs: number[] = [];
    for (const point of points) {
      await waitFor(async () => (await finished()) >= point, 120_000, 25);
      await sleep(Math.random() * 50); // not always right after a poll
      await server.kill();
      const t0 = Date.now();
      const db = await backend.view(server);
      try {
        expect(await db.integrity()).toBe('ok');
        const counts = await db.statusCounts();
        expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(JOBS);
      } finally {
        await db.close();
      }
      await server.restart();
      downMs.push(Date.now() - t0);
    }

    await waitFor(async () => (await finished()) === JOBS, 240_000, 200);
    const exits = await pool.terminateAll();
    expect(exits.filter((e) => e.code !== 0).map((e) => `${e.id} exited ${e.code}: ${e.output.slice(-500)}`)).toEqual(
      [],
    );
    expect(await server.stop()).toBe(0);

    const db = await backend.view(server);
    try {
      const acknowledged = pool.acknowledged();
      const inv = await checkInvariants(db, path.join(server.dir, 'datalake'), jobIds, {
        requireFinished: true,
        acknowledged,
      });
      printSummary(`server-kill ${backend.name}`, {
        kills: KILLS,
        jobs: JOBS,
        bots: BOTS,
        completed: inv.counts.completed ?? 0,
        acknowledgedByBots: acknowledged.size,
        failed: inv.counts.failed ?? 0,
        resultRows: inv.results,
        maxRestartMs: Math.max(...downMs),
        repairs: (server.output().match(/datalake repaired/g) ?? []).length,
        serverErrors: serverErrors(server.output()).length,
      });
      expect(inv.problems).toEqual([]);
      expect((inv.counts.completed ?? 0) + (inv.counts.failed ?? 0)).toBe(JOBS);
      // Crashes are expected here, errors are not: recovery and normal work log nothing at error level.
      expect([...new Set(serverErrors(server.output()))]).toEqual([]);
    } finally {
      await db.close();
    }
  });
});
