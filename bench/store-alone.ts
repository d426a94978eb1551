/**
 * Context rows of the drain and postgres goals: the store alone, in this process, with no HTTP at all. `loops`
 * concurrent bots run report+claim (`finishAndClaim`, the call behind `POST /jobs/next`) until `jobs`
 * jobs are done, each job one durable transaction with every write the server makes for it (the
 * fence, three events, the result row that is the datalake's outbox, counts, minute stats, the bot).
 * No design that keeps those writes can drain faster through HTTP than this on the same machine.
 *
 * CPU per job comes from /proc: this process (the store's JavaScript and driver) and, when the
 * database is a PostgreSQL running on this machine, the backends of the store's own connections
 * (PostgreSQL's background processes, which also work for other clients, are left out).
 */
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { openStore, parseDatabaseUrl } from '../server/store/open';
import type { Store } from '../server/store/types';
import { tempDir } from '../test/helpers/server-process';
import { cpuByPid, cpuMs, cpuSince, postgresBackends } from './processes';

export interface StoreAloneResult {
  jobs: number;
  jobsPerSecond: number;
  /** CPU of this process per job, µs. */
  nodeCpuUs: number;
  /** CPU of the local `postgres` processes per job, µs; null for SQLite or a remote PostgreSQL. */
  postgresCpuUs: number | null;
}

const STORE_OPTIONS = { defaultMaxAttempts: 1, defaultTimeoutMs: 0, botDownAfterMs: 120_000 };

/** Opens a store on `databaseUrl` (a fresh SQLite file when null), migrated. */
async function openBenchStore(databaseUrl: string | null): Promise<{ store: Store; dispose: () => Promise<void> }> {
  const dir = databaseUrl === null ? tempDir('botfleet-store-alone-') : null;
  const store = await openStore(databaseUrl ?? `sqlite://${path.join(dir!, 'jobs.db')}`, STORE_OPTIONS);
  await store.migrate();
  return {
    store,
    dispose: async () => {
      await store.close();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Each bot reports the job it holds and claims the next in one call, until none is left. Returns the jobs reported. */
async function reportAndClaimLoops(store: Store, bots: readonly string[]): Promise<number> {
  let done = 0;
  await Promise.all(
    bots.map(async (b) => {
      let held: { jobId: string; attempt: number; result: null } | null = null;
      for (;;) {
        const r = await store.finishAndClaim(b, held, Date.now());
        if (held) done++;
        if (!r.job) return;
        held = { jobId: r.job.id, attempt: r.job.attempts, result: null };
      }
    }),
  );
  return done;
}

/**
 * Drains `jobs` jobs with `loops` report+claim loops on a fresh store: a SQLite file when
 * `databaseUrl` is null, else that database (a fresh PostgreSQL schema, say). Throws unless every job
 * ended completed.
 */
export async function storeAlone(databaseUrl: string | null, jobs: number, loops: number): Promise<StoreAloneResult> {
  const onPostgres = databaseUrl !== null && parseDatabaseUrl(databaseUrl).kind === 'postgres';
  const others = new Set(onPostgres ? postgresBackends() : []); // connections that are not this store's
  const ownBackends = () => cpuByPid(postgresBackends().filter((pid) => !others.has(pid)));
  const { store, dispose } = await openBenchStore(databaseUrl);
  try {
    const bots = Array.from({ length: loops }, (_, i) => `store-alone-${i}`);
    for (const id of bots) await store.registerBot({ id }, Date.now());
    for (let i = 0; i < jobs; i += 5000) {
      await store.createJobs(
        Array.from({ length: Math.min(5000, jobs - i) }, () => ({ type: 'simulated', payload: {}, priority: 0 })),
        Date.now(),
      );
    }
    if (onPostgres) await analyzeJobs(databaseUrl!); // as autovacuum would after a bulk insert
    const pg0 = onPostgres ? ownBackends() : null;
    const me0 = cpuMs(process.pid);
    const t0 = performance.now();
    const done = await reportAndClaimLoops(store, bots);
    const seconds = (performance.now() - t0) / 1000;
    const me = ((cpuMs(process.pid) - me0) * 1000) / done;
    const pgMs = pg0 ? cpuSince(pg0, ownBackends()) : 0; // a backend opened during the drain counts whole
    const pgUs = pgMs > 0 ? (pgMs * 1000) / done : null;
    const completed = (await store.summary(Date.now())).jobs.completed;
    if (done !== jobs || completed !== jobs)
      throw new Error(`store alone: ${done} reports and ${completed} completed jobs for ${jobs} jobs`);
    return { jobs, jobsPerSecond: done / seconds, nodeCpuUs: me, postgresCpuUs: pgUs };
  } finally {
    await dispose();
  }
}

/** ANALYZE of the jobs table of a PostgreSQL DATABASE_URL's schema, on a connection of its own. */
async function analyzeJobs(databaseUrl: string): Promise<void> {
  const t = parseDatabaseUrl(databaseUrl);
  if (t.kind !== 'postgres') return;
  const c = new pg.Client({ connectionString: t.url });
  await c.connect();
  try {
    await c.query(`ANALYZE ${t.schema ?? 'public'}.jobs`);
  } finally {
    await c.end();
  }
}
