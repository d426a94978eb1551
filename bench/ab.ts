/**
 * A/B comparison of server code within one run: server A runs the server of a git commit (extracted
 * with `git archive` into a temp folder), server B the working tree. Drains of 4 lean clients
 * alternate A, B, A, B…, so the load other work puts on the machine falls on both alike.
 *
 * With client=enqueue it compares bulk enqueues instead (goal 3): each round times one
 * POST /jobs {jobs: [...]} of `jobs` jobs on A, then on B. With client=pickup, pickup latency
 * (goal 2): each round sends `jobs` jobs one at a time to an idle lean client on A, then on B, and
 * the figure is their median latency in ms (lower is better).
 *
 * Usage: node --import tsx bench/ab.ts <commit> [rounds=3] [jobs=5000] [client=lean|lean-http|lean-socket|bot|enqueue|pickup]
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ADMIN_TOKEN, freePort, ROOT, tempDir, waitFor } from '../test/helpers/server-process';
import { measureDrain, type ClientKind } from './fleet';
import { leanPickupLatencies } from './goals-queue';
import { percentile, postJson } from './http';
import { stopChild } from './processes';
import { countArg, scriptArgs, usageError } from './cli';

async function launch(root: string, dir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'server', 'main.ts')], {
    cwd: root,
    env: {
      ...process.env,
      SERVER_PORT: String(port),
      SERVER_HOST: '127.0.0.1',
      DATABASE_URL: `sqlite://${path.join(dir, 'jobs.db')}`,
      DATALAKE_DIR: path.join(dir, 'datalake'),
      ADMIN_TOKEN,
      RATE_LIMIT_ADMIN_PER_S: '0',
      POPULATE_INTERVAL_MS: '0',
      LOG_LEVEL: 'warn',
      LOG_PRETTY: 'false',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/healthz`)).status === 200, 30_000);
  return { url, stop: () => stopChild(proc, 10_000) };
}

async function main(): Promise<void> {
  const usage =
    'node --import tsx bench/ab.ts <commit> [rounds=3] [jobs=5000] [client=lean|lean-http|lean-socket|bot|enqueue|pickup]';
  const [commit, roundsArg, jobsArg, client = 'lean'] = scriptArgs(usage);
  if (!commit) usageError(usage, 'which commit to compare with?');
  if (!['lean', 'lean-http', 'lean-socket', 'bot', 'enqueue', 'pickup'].includes(client))
    usageError(usage, `client must be lean, lean-http, lean-socket, bot, enqueue or pickup, not "${client}"`);
  const rounds = countArg(usage, 'rounds', roundsArg, 3);
  const jobs = countArg(usage, 'jobs', jobsArg, 5000);
  const before = tempDir('botfleet-ab-');
  execFileSync('sh', ['-c', `git archive ${commit} core server datalake | tar -x -C ${before}`], { cwd: ROOT });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(before, 'node_modules'));
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(before, 'package.json'));
  const dirs = [tempDir('botfleet-ab-a-'), tempDir('botfleet-ab-b-')];
  const a = await launch(before, dirs[0]);
  const b = await launch(ROOT, dirs[1]);
  const rates: { a: number[]; b: number[] } = { a: [], b: [] }; // jobs/s per round, or pickup p50 in ms
  const bulk = { jobs: Array.from({ length: jobs }, () => ({ type: 'simulated', payload: {} })) };
  if (client === 'enqueue') for (const s of [a, b]) await postJson(`${s.url}/jobs`, { jobs: bulk.jobs.slice(0, 100) }); // warm-up
  try {
    for (let r = 0; r < rounds; r++) {
      for (const [name, s] of [
        ['a', a],
        ['b', b],
      ] as const) {
        const who = name === 'a' ? `A ${commit}` : 'B working tree';
        if (client === 'pickup') {
          const lat = await leanPickupLatencies(s.url, jobs, `ab${name}${r}`);
          rates[name].push(percentile(lat, 50));
          process.stdout.write(
            `round ${r + 1} ${who}: pickup p50 ${percentile(lat, 50).toFixed(2)} ms, p99 ${percentile(lat, 99).toFixed(2)} ms\n`,
          );
          continue;
        }
        const rate =
          client === 'enqueue'
            ? await enqueueRate(s.url, bulk)
            : (await measureDrain([s.url], client as ClientKind, 4, jobs, `ab${name}${r}`)).jobsPerSecond;
        rates[name].push(rate);
        process.stdout.write(`round ${r + 1} ${who}: ${Math.round(rate)} jobs/s\n`);
      }
    }
  } finally {
    await a.stop();
    await b.stop();
    for (const d of [before, ...dirs]) fs.rmSync(d, { recursive: true, force: true });
  }
  const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const [medA, medB] = [percentile(rates.a, 50), percentile(rates.b, 50)];
  const figure = client === 'pickup' ? (x: number) => `${x.toFixed(2)} ms` : (x: number) => `${Math.round(x)} jobs/s`;
  const what = client === 'pickup' ? "median of the rounds' pickup p50" : 'median';
  process.stdout.write(
    `${what}: A ${figure(medA)}, B ${figure(medB)}, B/A ${(medB / medA).toFixed(2)}x (${client === 'pickup' ? 'lower' : 'higher'} is better; load ${load})\n`,
  );
}

/** One bulk enqueue, timed as goal 3 does: the HTTP round trip including the whole answer. */
async function enqueueRate(url: string, body: { jobs: unknown[] }): Promise<number> {
  const t0 = performance.now();
  await postJson(`${url}/jobs`, body);
  return (body.jobs.length / (performance.now() - t0)) * 1000;
}

void main();
