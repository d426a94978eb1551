/**
 * The drain, latency and enqueue goals on the SQLite default: drain rate of 4 bots (and of 4 lean
 * clients), pickup latency of an idle client and of an idle bot, bulk enqueue. Each goal gets its own
 * fresh server process, so one goal's leftovers never slow the next.
 */
import { bareHttpPingPong } from './bare-http';
import { bullmqDrain, bullmqLatency } from './bullmq';
import type { BenchOptions } from './config';
import { startLogFlood } from './log-flood';
import { measureDrain, nextMessage, startFleet } from './fleet';
import { getJson, percentile, postFast, postJson, sleep, timeCalls } from './http';
import { CORES, cpuBudgetUs, memoryOf, startBenchServer } from './processes';
import { storeAlone } from './store-alone';
import type { Figure } from './table';

/** The low end of BullMQ's drain rate on a 2-core machine: the anchor when --compare is not given. */
const BULLMQ_ANCHOR = 3400;

export async function goalDrain(o: BenchOptions, out: Figure[]): Promise<void> {
  const n = o.sizes.drainJobs;
  let anchor = BULLMQ_ANCHOR;
  let anchorNote = 'anchor: the low end of BullMQ on 2 cores (--compare measures it)';
  if (o.compare) {
    const b = await bullmqDrain(o.redisUrl, 4, n);
    anchor = b.jobsPerSecond;
    anchorNote = 'anchor: BullMQ measured in this run';
    out.push({
      goal: 'drain',
      what: `BullMQ 4 workers x1 drain ${n.toLocaleString('en-US')} jobs`,
      value: b.jobsPerSecond,
      unit: 'jobs/s',
      target: null,
      sense: 'min',
      note: `${b.seconds.toFixed(1)} s, worker peak ${b.workerPeakMb.toFixed(0)} MB`,
    });
  }
  // Context: what 4 client processes and a server that does no work at all reach over HTTP here.
  const bare = await bareHttpPingPong(4, Math.max(1, Math.round(n / 4)));
  out.push({
    goal: 'drain',
    what: 'bare node:http ping-pong, 4 client processes',
    value: bare.requestsPerSecond,
    unit: 'req/s',
    target: null,
    sense: 'min',
    note: `no work: the ceiling of HTTP here; CPU per exchange: server ${Math.round(bare.serverCpuUs)} µs, clients ${Math.round(bare.clientCpuUs)} µs`,
  });
  // Context: the store alone in this process, no HTTP: the ceiling of the durable transaction (one
  // writer at a time on SQLite) whatever the HTTP path costs.
  const alone = await storeAlone(null, n, 4);
  out.push({
    goal: 'drain',
    what: 'the store alone, in-process, 4 report+claim loops',
    value: alone.jobsPerSecond,
    unit: 'jobs/s',
    target: null,
    sense: 'min',
    note: `no HTTP: one durable SQLite transaction a job, ${Math.round(alone.nodeCpuUs)} µs of CPU each`,
  });
  const server = await startBenchServer();
  try {
    const bots = await measureDrain([server.url], 'bot', 4, n, 'drain', {}, { serverPids: [server.proc.pid!] });
    out.push({
      goal: 'drain',
      what: `4 bot processes drain ${n.toLocaleString('en-US')} jobs (SQLite)`,
      value: bots.jobsPerSecond,
      unit: 'jobs/s',
      target: anchor,
      sense: 'min',
      note: `${anchorNote}; ${bots.failed} failed`,
    });
    // Where that drain's CPU went, against what the anchor's rate leaves a job on this machine.
    const c = bots.cpuUsPerJob;
    out.push({
      goal: 'drain',
      what: '... CPU per job in that drain, server + bots',
      value: c.servers + c.clients,
      unit: 'µs',
      target: null,
      sense: 'max',
      note: `server ${Math.round(c.servers)}, 4 bots ${Math.round(c.clients)}; at the anchor's rate ${CORES} cores leave ${Math.round(cpuBudgetUs(anchor))} µs a job for everything`,
    });
    // The same drain while a fifth bot floods its job's log with 1,000 lines a second.
    const flood = await startLogFlood(server.url);
    let flooded: Awaited<ReturnType<typeof measureDrain>>;
    let floodStats: Awaited<ReturnType<typeof flood.stop>>;
    try {
      flooded = await measureDrain([server.url], 'bot', 4, n, 'drain-flood', {}, { serverPids: [server.proc.pid!] });
    } finally {
      floodStats = await flood.stop();
    }
    out.push({
      goal: 'drain',
      what: '... the same while a 5th bot logs 1,000 lines/s',
      value: flooded.jobsPerSecond,
      unit: 'jobs/s',
      target: bots.jobsPerSecond,
      sense: 'min',
      note: `target: the plain drain above; ${Math.round(floodStats.sent / floodStats.seconds)} lines/s sent, ${floodStats.stored} kept, ${floodStats.dropped} dropped; server CPU ${Math.round(flooded.cpuUsPerJob.servers)} µs a job`,
    });
    // The same bots logging at the default level (3 lines a job on stdout, read by this process as a
    // container runtime would read them); the figure above is at LOG_LEVEL=warn, like every drain here.
    const talking = await measureDrain([server.url], 'bot', 4, n, 'drain-info', { LOG_LEVEL: 'info' });
    out.push({
      goal: 'drain',
      what: `... the same at LOG_LEVEL=info (the default)`,
      value: talking.jobsPerSecond,
      unit: 'jobs/s',
      target: anchor,
      sense: 'min',
      note: `3 log lines a job; ${talking.failed} failed`,
    });
    const lean = await measureDrain([server.url], 'lean', 4, n, 'drain');
    out.push({
      goal: 'drain',
      what: `4 lean clients drain ${n.toLocaleString('en-US')} jobs`,
      value: lean.jobsPerSecond,
      unit: 'jobs/s',
      target: anchor,
      sense: 'min',
      note: "POST /jobs/next in a loop on the bot's transport, no logs or heartbeats",
    });
    out.push({
      goal: 'drain',
      what: 'server peak RSS during the drains',
      value: memoryOf(server.proc.pid!).peakMb,
      unit: 'MB',
      target: null,
      sense: 'max',
    });
  } finally {
    await server.stop();
  }
}

/**
 * Pickup latency of one idle lean client long-polling `url`: for each sample the driver stamps its
 * wall clock into the payload just before POST /jobs, the client reports now - sentAt when the
 * claim's answer arrives. Milliseconds, in order.
 */
async function leanPickupLatencies(url: string, samples: number, prefix: string): Promise<number[]> {
  const [lean] = (await startFleet('lean', [url], 1, prefix, { LATENCY: '1' })).children;
  const lat: number[] = [];
  try {
    await sleep(100);
    for (let i = 0; i < samples; i++) {
      const got = nextMessage(lean.proc, 'latencyMs', 10_000);
      got.catch(() => undefined); // awaited below; if the POST throws first, the child's exit must not crash the run
      await postFast(`${url}/jobs`, {
        type: 'simulated',
        payload: { sentAt: performance.timeOrigin + performance.now() },
      });
      lat.push(Number((await got).latencyMs));
      await sleep(5); // the client has reported and is long-polling again
    }
  } finally {
    await lean.stop();
  }
  return lat;
}

export async function goalLatency(o: BenchOptions, out: Figure[]): Promise<void> {
  const samples = o.sizes.latencySamples;
  const server = await startBenchServer();
  try {
    const lat = await leanPickupLatencies(server.url, samples, 'latency');
    out.push({
      goal: 'latency',
      what: 'pickup latency p50, idle lean client',
      value: percentile(lat, 50),
      unit: 'ms',
      target: 2,
      sense: 'max',
      note: `${samples} jobs; from before POST /jobs to the answer in the client`,
    });
    out.push({
      goal: 'latency',
      what: 'pickup latency p99, idle lean client',
      value: percentile(lat, 99),
      unit: 'ms',
      target: 10,
      sense: 'max',
    });

    // The real bot: claimedAt - createdAt as the server stamped them (whole ms).
    const bot = await startFleet('bot', [server.url], 1, 'latency');
    const botLat: number[] = [];
    try {
      await sleep(100);
      for (let i = 0; i < samples; i++) {
        const job = await postJson<{ id: string }>(`${server.url}/jobs`, { type: 'simulated', payload: {} });
        let j: { status: string; createdAt: string; claimedAt: string | null };
        do {
          await sleep(10);
          j = await getJson(`${server.url}/jobs/${job.id}`);
        } while (j.status !== 'completed' && j.status !== 'failed');
        botLat.push(Date.parse(j.claimedAt!) - Date.parse(j.createdAt));
      }
    } finally {
      await bot.stop();
    }
    out.push({
      goal: 'latency',
      what: 'pickup latency p50, idle bot process',
      value: percentile(botLat, 50),
      unit: 'ms',
      target: 2,
      sense: 'max',
      note: 'claimedAt - createdAt, server clock, 1 ms steps',
    });
    out.push({
      goal: 'latency',
      what: 'pickup latency p99, idle bot process',
      value: percentile(botLat, 99),
      unit: 'ms',
      target: 10,
      sense: 'max',
    });
  } finally {
    await server.stop();
  }
  if (o.compare) {
    const b = await bullmqLatency(o.redisUrl, samples);
    out.push({
      goal: 'latency',
      what: 'BullMQ pickup latency p50 / p99',
      value: b.p50,
      unit: 'ms',
      target: null,
      sense: 'max',
      note: `p99 ${b.p99.toFixed(2)} ms, same method as the lean client`,
    });
  }
}

export async function goalEnqueue(o: BenchOptions, out: Figure[]): Promise<void> {
  const n = o.sizes.enqueueJobs;
  const server = await startBenchServer();
  try {
    const jobs = Array.from({ length: n }, () => ({ type: 'simulated', payload: {} }));
    await postJson(`${server.url}/jobs`, { jobs: jobs.slice(0, 100) }); // warm-up: statements prepared, JIT
    const ms = await timeCalls(o.sizes.enqueueRepeats, () => postJson(`${server.url}/jobs`, { jobs }));
    const rates = ms.map((t) => (n / t) * 1000);
    out.push({
      goal: 'enqueue',
      what: `POST /jobs {jobs: ${n.toLocaleString('en-US')}} median`,
      value: percentile(rates, 50),
      unit: 'jobs/s',
      target: 50_000,
      sense: 'min',
      note: `best ${Math.round(Math.max(...rates)).toLocaleString('en-US')} of ${ms.length}, HTTP round trip incl. the full answer`,
    });
  } finally {
    await server.stop();
  }
}
