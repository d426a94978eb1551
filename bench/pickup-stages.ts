/**
 * Goal 2's pickup, stage by stage. The server runs in this process (under tsx) with timestamps at
 * the request event, around the store's createJobs and finishAndClaim, and at each answer's
 * res.end(); a child process is the enqueuer and the one idle client long-polling on POST /jobs/next
 * (node:http keep-alive, 5 ms idle between samples, as goal 2 measures). Prints, for each stage, the
 * median time after the POST /jobs request event, and the client's own enqueue and pickup times.
 *
 * Usage: node --import tsx bench/pickup-stages.ts [samples=300]
 */
import { fork } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { startInProcess } from '../test/helpers/server-in-process';
import { countArg, scriptArgs } from './cli';
import { percentile, postOn, sleep } from './http';

const WARM_UP = 20;

/** The child: enqueue one job, the idle client picks it up; `samples` times after a warm-up. */
async function client(url: string, samples: number): Promise<void> {
  const agents = [
    new http.Agent({ keepAlive: true, maxSockets: 1 }),
    new http.Agent({ keepAlive: true, maxSockets: 1 }),
  ];
  const post = (agent: http.Agent, p: string, body: unknown) =>
    postOn<{ job?: { id: string; attempts: number } | null }>(agent, `${url}${p}`, body);
  const [poller, enqueuer] = agents;
  await post(poller, '/bots/register', { id: 'pickup-stages' });
  let held: { jobId: string; attempt: number } | null = null;
  const enqueue: number[] = [];
  const pickup: number[] = [];
  for (let i = 0; i < samples + WARM_UP; i++) {
    const claim = post(poller, '/jobs/next', {
      botId: 'pickup-stages',
      waitMs: 25000,
      ...(held ? { complete: { ...held, result: null } } : {}),
    });
    await sleep(5);
    const t0 = performance.now();
    const created = await post(enqueuer, '/jobs', { type: 'simulated', payload: {} });
    const got = await claim;
    if (!got.body.job) throw new Error(`no job picked up: ${JSON.stringify(got.body)}`);
    held = { jobId: got.body.job.id, attempt: got.body.job.attempts };
    if (i >= WARM_UP) {
      enqueue.push(created.at - t0);
      pickup.push(got.at - t0);
    }
  }
  await new Promise<void>((resolve) => process.send?.({ enqueue, pickup }, () => resolve()) ?? resolve());
}

async function main(): Promise<void> {
  if (process.argv[2] === '--client') return client(process.argv[3], Number(process.argv[4]));
  const usage = 'node --import tsx bench/pickup-stages.ts [samples=300]';
  const [samplesArg] = scriptArgs(usage);
  const samples = countArg(usage, 'samples', samplesArg, 300);

  const marks: { name: string; t: number }[] = [];
  const mark = (name: string) => marks.push({ name, t: performance.now() });
  // Every server in this process: mark the request event and res.end() of the two routes.
  const emit = http.Server.prototype.emit;
  http.Server.prototype.emit = function (this: http.Server, event: string, ...args: unknown[]) {
    if (event === 'request') {
      const [req, res] = args as [http.IncomingMessage, http.ServerResponse];
      const route = `${req.method} ${req.url}`;
      if (route === 'POST /jobs' || route === 'POST /jobs/next') {
        mark(`request ${route}`);
        const end = res.end.bind(res) as (...a: unknown[]) => http.ServerResponse;
        (res as unknown as { end: (...a: unknown[]) => http.ServerResponse }).end = (...a: unknown[]) => {
          mark(`answer ${route} written`);
          return end(...a);
        };
      }
    }
    return Reflect.apply(emit, this, [event, ...args]) as boolean;
  } as typeof emit;

  const server = await startInProcess({ RATE_LIMIT_ADMIN_PER_S: '0' });
  const store = server.store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  for (const method of ['createJobs', 'finishAndClaim']) {
    const original = store[method].bind(store);
    store[method] = async (...a: unknown[]) => {
      mark(`${method} called`);
      try {
        return await original(...a);
      } finally {
        mark(`${method} done`);
      }
    };
  }

  const child = fork(__filename, ['--client', server.url, String(samples)], { execArgv: ['--import', 'tsx'] });
  const times = await new Promise<{ enqueue: number[]; pickup: number[] }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { enqueue: number[]; pickup: number[] }));
    child.once('exit', (code) => reject(new Error(`the client exited with ${code} before reporting`)));
  });
  await server.close();
  fs.rmSync(server.dir, { recursive: true, force: true });

  // Each sample: the marks from a POST /jobs request event up to the claim's answer.
  const stages = new Map<string, number[]>();
  let sample = 0;
  for (let i = 0; i < marks.length; i++) {
    if (marks[i].name !== 'request POST /jobs') continue;
    if (sample++ < WARM_UP) continue;
    for (let j = i + 1; j < marks.length && marks[j].name !== 'request POST /jobs'; j++) {
      const list = stages.get(marks[j].name) ?? [];
      stages.set(marks[j].name, list);
      list.push(marks[j].t - marks[i].t);
      if (marks[j].name === 'answer POST /jobs/next written') break;
    }
  }
  const us = (ms: number) =>
    `${Math.round(ms * 1000)
      .toLocaleString('en-US')
      .padStart(6)} µs`;
  console.log(`${samples} samples; server stages, median after the POST /jobs request event:`);
  for (const [name, list] of [...stages].sort((a, b) => percentile(a[1], 50) - percentile(b[1], 50)))
    console.log(
      `  ${us(percentile(list, 50))}  ${name}${list.length < samples ? ` (in ${list.length} of ${samples} samples)` : ''}`,
    );
  const line = (xs: number[]) =>
    `p50 ${us(percentile(xs, 50))}, p90 ${us(percentile(xs, 90))}, p99 ${us(percentile(xs, 99))}`;
  console.log(`client, from before POST /jobs: enqueue answered ${line(times.enqueue)}`);
  console.log(`                                job picked up   ${line(times.pickup)}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
