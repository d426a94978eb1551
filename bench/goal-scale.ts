/**
 * The scale goal. Two servers side by side: A on an empty database, B on one seeded with
 * scaleSeedJobs finished jobs. Drains alternate A, B, A, B (best of each), so load from other work
 * on the machine hits both alike. Then read latencies on B (GET /jobs first and 100th page,
 * /metrics/summary, the dashboard overview) and peak memory of B and of its bots.
 */
import path from 'node:path';
import { freePort, waitFor, type ServerProcess } from '../test/helpers/server-process';
import type { BenchOptions } from './config';
import { measureDrain } from './fleet';
import { ADMIN, getJson, percentile, timeCalls } from './http';
import { compileDashboard } from './compile';
import { memoryOf, spawnNode, startBenchServer } from './processes';
import { seedFinishedJobs } from './seed-jobs';
import type { Figure } from './table';

async function p99Of(n: number, url: string): Promise<number> {
  await fetch(url, { headers: ADMIN }).then((r) => r.arrayBuffer()); // warm-up
  const ms = await timeCalls(n, async () => {
    const r = await fetch(url, { headers: ADMIN });
    if (!r.ok) throw new Error(`GET ${url} answered ${r.status}`);
    await r.arrayBuffer();
  });
  return percentile(ms, 99);
}

export async function goalScale(o: BenchOptions, out: Figure[]): Promise<void> {
  const seedN = o.sizes.scaleSeedJobs;
  const n = o.sizes.scaleDrainJobs;
  const rounds = o.quick ? 1 : 2;
  const servers: ServerProcess[] = [];
  try {
    const a = await startBenchServer();
    servers.push(a);
    const b = await startBenchServer();
    servers.push(b);
    await b.stop();
    const seeded = seedFinishedJobs(path.join(b.dir, 'jobs.db'), seedN);
    await b.restart();
    const label = seedN.toLocaleString('en-US');
    out.push({
      goal: 'scale',
      what: `seed ${label} finished jobs`,
      value: seeded.seconds,
      unit: 's',
      target: 60,
      sense: 'max',
      note: 'jobs + 2 events each, triggers keep the counts',
    });

    let emptyBest = 0;
    let fullBest = 0;
    for (let r = 0; r < rounds; r++) {
      emptyBest = Math.max(emptyBest, (await measureDrain([a.url], 'lean', 4, n, `scale-a${r}`)).jobsPerSecond);
      fullBest = Math.max(fullBest, (await measureDrain([b.url], 'lean', 4, n, `scale-b${r}`)).jobsPerSecond);
    }
    out.push({
      goal: 'scale',
      what: `4 lean clients drain ${n.toLocaleString('en-US')}, empty database`,
      value: emptyBest,
      unit: 'jobs/s',
      target: null,
      sense: 'min',
      note: `best of ${rounds}`,
    });
    out.push({
      goal: 'scale',
      what: `... with ${label} jobs in the database`,
      value: fullBest,
      unit: 'jobs/s',
      target: emptyBest * 0.9,
      sense: 'min',
      note: 'target: 90% of the empty database',
    });

    const bots = await measureDrain([b.url], 'bot', 4, n, 'scale-bots');
    out.push({
      goal: 'scale',
      what: `4 bot processes drain ${n.toLocaleString('en-US')}, ${label} jobs in the db`,
      value: bots.jobsPerSecond,
      unit: 'jobs/s',
      target: null,
      sense: 'min',
    });
    out.push({
      goal: 'scale',
      what: 'bot peak RSS (VmHWM)',
      value: bots.clientPeakMb,
      unit: 'MB',
      target: 80,
      sense: 'max',
      note: 'highest of the 4 bots',
    });

    const samples = o.quick ? 20 : 200;
    out.push({
      goal: 'scale',
      what: 'GET /jobs first page p99',
      value: await p99Of(samples, `${b.url}/jobs`),
      unit: 'ms',
      target: 20,
      sense: 'max',
      note: `${samples} calls, 50 jobs a page`,
    });
    let cursor: string | null = null;
    for (let page = 1; page < 100; page++) {
      const res: { nextCursor: string | null } = await getJson(`${b.url}/jobs${cursor ? `?cursor=${cursor}` : ''}`);
      cursor = res.nextCursor;
    }
    out.push({
      goal: 'scale',
      what: 'GET /jobs 100th page p99',
      value: await p99Of(samples, `${b.url}/jobs?cursor=${cursor}`),
      unit: 'ms',
      target: 20,
      sense: 'max',
    });
    out.push({
      goal: 'scale',
      what: 'GET /metrics/summary p99',
      value: await p99Of(samples, `${b.url}/metrics/summary`),
      unit: 'ms',
      target: 20,
      sense: 'max',
    });

    const port = await freePort();
    // The controller is not running: its port answers "connection refused" at once, and the
    // overview shows dashes for it, as it does in production when the controller is away.
    const dash = spawnNode([compileDashboard()], {
      DASHBOARD_PORT: String(port),
      DASHBOARD_HOST: '127.0.0.1',
      SERVER_URL: b.url,
      CONTROLLER_URL: `http://127.0.0.1:${await freePort()}`,
      LOG_LEVEL: 'warn',
    });
    try {
      await waitFor(
        async () => dash.proc.exitCode !== null || (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200,
        30_000,
      ).catch((err: Error) => {
        throw new Error(`the dashboard did not come up (${err.message}):\n${dash.output().slice(-2000)}`);
      });
      if (dash.proc.exitCode !== null)
        throw new Error(`the dashboard exited with ${dash.proc.exitCode}:\n${dash.output().slice(-2000)}`);
      out.push({
        goal: 'scale',
        what: 'dashboard overview (GET / on :3002) p99',
        value: await p99Of(samples, `http://127.0.0.1:${port}/`),
        unit: 'ms',
        target: 20,
        sense: 'max',
        note: 'rendered HTML, server + controller calls',
      });
    } finally {
      await dash.stop();
    }
    out.push({
      goal: 'scale',
      what: 'server peak RSS (VmHWM) with the seeded db',
      value: memoryOf(b.proc.pid!).peakMb,
      unit: 'MB',
      target: 200,
      sense: 'max',
      note: 'after drains and reads',
    });
  } finally {
    for (const s of servers) await s.stop();
  }
}
