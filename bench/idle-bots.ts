/**
 * What idle bots cost the server. `bots` clients long-poll POST /jobs/next (node:http, one
 * connection each, in this process) on a compiled server; first the server's CPU over 6 s with all
 * of them waiting and no jobs (their re-checks), then `jobs` single enqueues 10 ms apart, each
 * picked up by one of them. Prints the server's CPU per job above the idle rate: what waking the
 * waiting claims costs (new jobs wake one waiting claim each, server/claim-waiters.ts).
 *
 * Usage: node --import tsx bench/idle-bots.ts [bots=50] [jobs=300] [waitMs=2000]
 *   waitMs: each long-poll's wait (a bot's CLAIM_WAIT_MS is 25,000 by default; the end of the run
 *   waits for the last long-polls to end)
 */
import http from 'node:http';
import { postOn, sleep } from './http';
import { countArg, scriptArgs } from './cli';
import { cpuMs, startBenchServer } from './processes';

const IDLE_MS = 6000;

async function main(): Promise<void> {
  const usage = 'node --import tsx bench/idle-bots.ts [bots=50] [jobs=300] [waitMs=2000]';
  const [botsArg, jobsArg, waitArg] = scriptArgs(usage);
  const waitMs = countArg(usage, 'waitMs', waitArg, 2000);
  const bots = countArg(usage, 'bots', botsArg, 50);
  const jobs = countArg(usage, 'jobs', jobsArg, 300);
  const agent = new http.Agent({ keepAlive: true, maxSockets: bots + 1 });
  const server = await startBenchServer();
  const post = async <T>(p: string, body: unknown) => (await postOn<T>(agent, `${server.url}${p}`, body)).body;
  let stopping = false;
  let done = 0;
  try {
    for (let i = 0; i < bots; i++) await post(`/bots/register`, { id: `idle-${i}` });
    const loops = Array.from({ length: bots }, async (_, i) => {
      let held: { jobId: string; attempt: number } | null = null;
      while (!stopping) {
        const r: { job: { id: string; attempts: number } | null } = await post('/jobs/next', {
          botId: `idle-${i}`,
          waitMs,
          ...(held ? { complete: { ...held, result: null } } : {}),
        });
        if (held) done++;
        held = r.job ? { jobId: r.job.id, attempt: r.job.attempts } : null;
      }
      if (held) {
        await post(`/jobs/${held.jobId}/complete`, { botId: `idle-${i}`, attempt: held.attempt, result: null });
        done++;
      }
    });
    await sleep(500);
    const pid = server.proc.pid!;
    const idle0 = cpuMs(pid);
    await sleep(IDLE_MS);
    const idleMsPerS = (cpuMs(pid) - idle0) / (IDLE_MS / 1000);
    const busy0 = cpuMs(pid);
    const t0 = Date.now();
    for (let i = 0; i < jobs; i++) {
      await post('/jobs', { type: 'simulated', payload: {} });
      await sleep(10);
    }
    while (done < jobs) await sleep(10);
    const seconds = (Date.now() - t0) / 1000;
    const busy = cpuMs(pid) - busy0;
    console.log(
      `${bots} bots long-polling (waits of ${waitMs} ms), idle: server CPU ${idleMsPerS.toFixed(0)} ms per s`,
    );
    console.log(
      `${jobs} single enqueues 10 ms apart: server CPU ${((busy * 1000) / jobs).toFixed(0)} µs per job, ${(((busy - idleMsPerS * seconds) * 1000) / jobs).toFixed(0)} µs above the idle rate`,
    );
    stopping = true;
    await Promise.all(loops);
  } finally {
    await server.stop();
    agent.destroy();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
