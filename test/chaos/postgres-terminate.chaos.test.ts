/**
 * PostgreSQL: while REAL bots work, the test kills the server's database sessions with
 * pg_terminate_backend (every session of this server, found in pg_stat_activity by the
 * application_name the test gives it in DATABASE_URL; never the test's own session, never anyone
 * else's), PG_TERMINATE_ROUNDS times (default 6). A prober calls the server all along. Then:
 * no answer is a 500 (a 5xx is a 503 with a JSON error), the server is healthy and accepts writes
 * again within 10 s of each cut, nothing is logged as an unhandled error, and at the end 0 jobs are
 * lost and none is completed twice (database and datalake agree).
 * The TCP-proxy cut/restore variant is in test/server-postgres.test.ts; the machine's PostgreSQL
 * service is never restarted (other tests use it).
 */
import path from 'node:path';
import pg from 'pg';
import { startServer, waitFor, type ServerProcess } from '../helpers/server-process';
import { describePostgres, dropSchema, freshSchemaUrl, PG_BASE_URL } from '../helpers/postgres';
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
import { checkInvariants, postgresView } from '../helpers/chaos-state';
import { testTime } from '../helpers/time';

const ROUNDS = knob('PG_TERMINATE_ROUNDS', 6);
const JOBS = 300;
const RECOVERY_BOUND_MS = 10_000;

jest.setTimeout(testTime(180_000));

describePostgres('pg_terminate_backend on the server sessions mid-run', () => {
  const { url, schema } = freshSchemaUrl('chaos_term');
  const appName = `chaos_${schema}`.slice(0, 60);
  let sp: ServerProcess | undefined;
  let pool: BotPool | undefined;
  let admin: pg.Client | undefined;
  afterEach(async () => {
    await pool?.killAll();
    await discardServer(sp);
    await admin?.end();
    await dropSchema(schema);
  });

  it(`${ROUNDS} rounds: never a 500, recovered within 10 s each time, 0 lost, 0 duplicated`, async () => {
    sp = await startServer({
      env: {
        ...CHAOS_SERVER_ENV,
        DATABASE_URL: `${url}&application_name=${appName}`,
        MAX_ATTEMPTS: '5',
        BOT_DOWN_AFTER_MS: '5000',
        SWEEP_INTERVAL_MS: '200',
      },
    });
    const server = sp;
    admin = new pg.Client({ connectionString: PG_BASE_URL, application_name: 'chaos-terminator' });
    await admin.connect();
    const terminate = async (): Promise<number> => {
      const r = await admin!.query(
        'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
        [appName],
      );
      return r.rows.filter((x: { ok: boolean }) => x.ok).length;
    };
    const sessions = async () =>
      Number(
        (await admin!.query('SELECT COUNT(*) AS n FROM pg_stat_activity WHERE application_name = $1', [appName]))
          .rows[0].n,
      );
    expect(await sessions()).toBeGreaterThan(0); // the filter really finds this server's sessions

    const jobIds = await createJobs(server.url, JOBS);
    pool = new BotPool(server.url, 'pgterm', {
      HEARTBEAT_INTERVAL_MS: '300',
      PROCESSING_DURATION_MS: '100',
      FAILURE_RATE: '0',
      CLAIM_WAIT_MS: '1000',
      BACKOFF_MIN_MS: '50',
      BACKOFF_MAX_MS: '500',
      LOG_LEVEL: 'warn',
    });
    pool.fill(6);

    // The prober: reads and a write, all along; every answer is recorded.
    const answers = new Map<number, number>();
    const bad: string[] = [];
    let probing = true;
    const probe = (async () => {
      let n = 0;
      while (probing) {
        for (const [method, route, body] of [
          ['GET', '/healthz', undefined],
          ['GET', '/metrics/summary', undefined],
          ['GET', '/jobs?limit=5', undefined],
          ['POST', '/bots/register', { id: `pgterm-probe-${n++ % 3}` }],
        ] as const) {
          const r = await request(server.url, method, route, body).catch((e: Error) => ({
            status: 0,
            json: null,
            text: e.message,
          }));
          answers.set(r.status, (answers.get(r.status) ?? 0) + 1);
          if (r.status >= 500 && (r.status !== 503 || typeof r.json?.error?.code !== 'string'))
            bad.push(`${method} ${route}: ${r.status} ${r.text.slice(0, 200)}`);
          if (r.status === 0) bad.push(`${method} ${route}: no answer (${r.text})`);
        }
        await sleep(20);
      }
    })();

    const terminated: number[] = [];
    const recoveryMs: number[] = [];
    const notRecovered: string[] = [];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        await sleep(800 + Math.random() * 800);
        terminated.push(await terminate());
        const t0 = Date.now();
        // Recovered: healthy, and a write goes through. The last answers say why not, if it never is.
        let last = '';
        const recovered = await waitFor(
          async () => {
            const h = await request(server.url, 'GET', '/healthz');
            const w = await request(server.url, 'POST', '/bots/register', { id: 'pgterm-recovery' });
            last = `healthz ${h.status} ${h.text.slice(0, 120)}; register ${w.status} ${w.text.slice(0, 160)}`;
            return h.status === 200 && w.status < 300;
          },
          RECOVERY_BOUND_MS + 5000,
          50,
        ).then(
          () => true,
          () => false,
        );
        recoveryMs.push(Date.now() - t0);
        if (!recovered) {
          notRecovered.push(`round ${round + 1}: ${last}`);
          break;
        }
      }
      if (notRecovered.length === 0) {
        await waitFor(
          async () => {
            const j = (await request(server.url, 'GET', '/metrics/summary')).json.jobs;
            return j.completed + j.failed === JOBS;
          },
          90_000,
          200,
        );
      }
    } finally {
      probing = false; // a failed wait must not leave the prober running (jest would never exit)
      await probe;
    }
    if (notRecovered.length) {
      throw new Error(
        `not recovered within ${testTime(RECOVERY_BOUND_MS + 5000)} ms after pg_terminate_backend: ${notRecovered.join('\n')}\nserver errors: ${[...new Set(serverErrors(server.output()))].slice(0, 10).join('\n')}`,
      );
    }
    const exits = await pool.terminateAll();
    expect(exits.filter((e) => e.code !== 0).map((e) => e.id)).toEqual([]);
    expect(await server.stop()).toBe(0);

    const unhandled = serverErrors(server.output()).filter((l) => l.startsWith('unhandled error'));
    const db = await postgresView(schema);
    try {
      const inv = await checkInvariants(db, path.join(server.dir, 'datalake'), jobIds, { requireFinished: true });
      printSummary('postgres-terminate', {
        rounds: ROUNDS,
        sessionsTerminated: terminated.join('+'),
        maxRecoveryMs: Math.max(...recoveryMs),
        probes: [...answers].map(([s, n]) => `${s}:${n}`).join(','),
        unhandledErrors: unhandled.length,
        jobs: JOBS,
        completed: inv.counts.completed ?? 0,
        results: inv.results,
      });
      expect(inv.problems).toEqual([]);
      expect(inv.counts.completed).toBe(JOBS);
      expect(terminated.every((n) => n > 0)).toBe(true);
      expect(Math.max(...recoveryMs)).toBeLessThanOrEqual(RECOVERY_BOUND_MS);
      expect(bad.slice(0, 5)).toEqual([]);
      expect([...new Set(unhandled)]).toEqual([]); // each kind once // a lost session is a 503 or a retry, never a 500
    } finally {
      await db.close();
    }
  });
});
