/**
 * The postgres goal: two server processes on one PostgreSQL schema, 4 clients spread over them (2 each). After
 * the drains the database itself is asked whether any attempt was claimed twice.
 */
import pg from 'pg';
import type { ServerProcess } from '../test/helpers/server-process';
import { dropSchema, freshSchemaUrl, PG_AVAILABLE, PG_BASE_URL } from '../test/helpers/postgres';
import type { BenchOptions } from './config';
import { measureDrain } from './fleet';
import { CORES, cpuBudgetUs, startBenchServer } from './processes';
import { storeAlone, type StoreAloneResult } from './store-alone';
import type { Figure } from './table';

export async function goalPostgres(o: BenchOptions, out: Figure[]): Promise<void> {
  if (!PG_AVAILABLE) throw new Error(`no PostgreSQL answers at ${PG_BASE_URL}`);
  const { url, schema } = freshSchemaUrl('bench');
  const n = o.sizes.postgresJobs;
  const servers: ServerProcess[] = [];
  try {
    for (let i = 0; i < 2; i++) servers.push(await startBenchServer({ env: { DATABASE_URL: url } }));
    const urls = servers.map((s) => s.url);
    const bots = await measureDrain(
      urls,
      'bot',
      4,
      n,
      'pg',
      {},
      { serverPids: servers.map((s) => s.proc.pid!), postgres: true },
    );
    const lean = await measureDrain(urls, 'lean', 4, n, 'pg');
    const c = new pg.Client({ connectionString: PG_BASE_URL });
    await c.connect();
    let doubles: number;
    let claims: number;
    let results: number;
    try {
      doubles = Number(
        (
          await c.query(
            `SELECT COUNT(*) AS n FROM (SELECT job_id, attempt FROM ${schema}.job_events WHERE to_status = 'claimed' GROUP BY job_id, attempt HAVING COUNT(*) > 1) d`,
          )
        ).rows[0].n,
      );
      claims = Number(
        (await c.query(`SELECT COUNT(*) AS n FROM ${schema}.job_events WHERE to_status = 'claimed'`)).rows[0].n,
      );
      results = Number(
        (await c.query(`SELECT COUNT(*) AS n FROM ${schema}.results WHERE status = 'completed'`)).rows[0].n,
      );
    } finally {
      await c.end();
    }
    const ceiling = await commitCeiling(schema, 4, o.quick ? 0.5 : 3);
    // Context: the same database work with no HTTP and no second server, in this process.
    const aloneSchema = freshSchemaUrl('bench_alone');
    let alone: StoreAloneResult;
    try {
      alone = await storeAlone(aloneSchema.url, n, 4);
    } finally {
      await dropSchema(aloneSchema.schema).catch(() => undefined);
    }
    const total = 2 * n;
    const label = n.toLocaleString('en-US');
    out.push({
      goal: 'postgres',
      what: `PostgreSQL, 2 servers, 4 bot processes, ${label} jobs`,
      value: bots.jobsPerSecond,
      unit: 'jobs/s',
      target: 2000,
      sense: 'min',
      note: `${bots.failed} failed`,
    });
    const cpu = bots.cpuUsPerJob;
    const budget = cpuBudgetUs(2000);
    out.push({
      goal: 'postgres',
      what: '... CPU per job in that drain, servers + bots + PostgreSQL',
      value: cpu.servers + cpu.clients + (cpu.postgres ?? 0),
      unit: 'µs',
      target: null,
      sense: 'max',
      note: `2 servers ${Math.round(cpu.servers)}, 4 bots ${Math.round(cpu.clients)}, PostgreSQL client backends ${Math.round(cpu.postgres ?? 0)}; at 2,000 jobs/s ${CORES} cores leave ${Math.round(budget)} µs`,
    });
    out.push({
      goal: 'postgres',
      what: `PostgreSQL, 2 servers, 4 lean clients, ${label} jobs`,
      value: lean.jobsPerSecond,
      unit: 'jobs/s',
      target: 2000,
      sense: 'min',
      note: `${lean.failed} failed`,
    });
    out.push({
      goal: 'postgres',
      what: 'PostgreSQL commit ceiling, 4 connections',
      value: ceiling,
      unit: 'commits/s',
      target: null,
      sense: 'min',
      note: "UPDATE of one row + COMMIT in a loop, no HTTP: one job is one such fsync'd commit",
    });
    out.push({
      goal: 'postgres',
      what: 'the store alone, in-process, 4 report+claim loops',
      value: alone.jobsPerSecond,
      unit: 'jobs/s',
      target: null,
      sense: 'min',
      note: `no HTTP, one node process: ${Math.round(alone.nodeCpuUs)} µs of its CPU a job`,
    });
    if (alone.postgresCpuUs !== null) {
      // What PostgreSQL alone spends on a job, against what the goal's rate leaves for everything.
      out.push({
        goal: 'postgres',
        what: '... CPU per job of its PostgreSQL backends',
        value: alone.postgresCpuUs,
        unit: 'µs',
        target: null,
        sense: 'max',
        note: `background processes not counted; at 2,000 jobs/s ${CORES} cores leave ${Math.round(budget)} µs a job for everything`,
      });
    }
    out.push({
      goal: 'postgres',
      what: 'attempts claimed twice (job_events)',
      value: doubles,
      unit: '',
      target: 0,
      sense: 'max',
      note: `${claims} claims, ${results} completed results for ${total} jobs`,
    });
    if (claims !== total || results !== total)
      throw new Error(`expected ${total} claims and results, found ${claims} claims and ${results} results`);
  } finally {
    for (const s of servers) await s.stop();
    await dropSchema(schema).catch(() => undefined);
  }
}

/**
 * What the disk allows: `clients` connections each committing a one-row UPDATE in a loop for
 * `seconds`. Every job's report is such a commit (the answer waits for its fsync), so with 4 bots
 * this bounds the postgres goal on the machine of the run, whatever the HTTP path does.
 */
async function commitCeiling(schema: string, clients: number, seconds: number): Promise<number> {
  const table = `${schema}.bench_commit_ceiling`;
  const conns = await Promise.all(
    Array.from({ length: clients }, async () => {
      const c = new pg.Client({ connectionString: PG_BASE_URL });
      await c.connect();
      return c;
    }),
  );
  try {
    await conns[0].query(`CREATE TABLE ${table} (id int PRIMARY KEY, n bigint NOT NULL)`);
    await conns[0].query(`INSERT INTO ${table} SELECT g, 0 FROM generate_series(0, $1) g`, [clients - 1]);
    let commits = 0;
    const end = performance.now() + seconds * 1000;
    await Promise.all(
      conns.map(async (c, i) => {
        while (performance.now() < end) {
          await c.query(`UPDATE ${table} SET n = n + 1 WHERE id = $1`, [i]);
          commits++;
        }
      }),
    );
    await conns[0].query(`DROP TABLE ${table}`);
    return commits / seconds;
  } finally {
    await Promise.all(conns.map((c) => c.end()));
  }
}
