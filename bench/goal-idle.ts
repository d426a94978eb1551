/**
 * The idle goal: what waiting bots cost the server. `idleBots` clients long-poll POST /jobs/next
 * (node:http, one kept-alive connection each, in this process) on an empty queue; the server's CPU is
 * read over 6 s of that, then over `idleJobs` single enqueues 10 ms apart, each picked up by one of
 * the waiting claims (a new job wakes one waiting claim: server/claim-waiters.ts).
 */
import http from 'node:http';
import type { BenchOptions } from './config';
import { ADMIN, BOT, postOn, sleep } from './http';
import { cpuMs, startBenchServer } from './processes';
import type { Figure } from './table';

const WAIT_MS = 2000; // each long-poll's wait; a bot's CLAIM_WAIT_MS is 25,000 by default

export async function goalIdle(o: BenchOptions, out: Figure[]): Promise<void> {
  const { idleBots: bots, idleJobs: jobs } = o.sizes;
  const idleMs = o.quick ? 2000 : 6000;
  const agent = new http.Agent({ keepAlive: true, maxSockets: bots + 1 });
  const server = await startBenchServer();
  const post = async <T>(p: string, body: unknown, headers = BOT) => {
    const r = await postOn<T>(agent, `${server.url}${p}`, body, headers);
    if (r.status >= 300) throw new Error(`POST ${p} answered ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  let stopping = false;
  let done = 0;
  let failure: unknown = null;
  let loops: Promise<void>[] = [];
  try {
    for (let i = 0; i < bots; i++) await post('/bots/register', { id: `idle-${i}` });
    loops = Array.from({ length: bots }, async (_, i) => {
      let held: { jobId: string; attempt: number } | null = null;
      while (!stopping) {
        const r: { job: { id: string; attempts: number } | null } = await post('/jobs/next', {
          botId: `idle-${i}`,
          waitMs: WAIT_MS,
          ...(held ? { complete: { ...held, result: null } } : {}),
        });
        if (held) done++;
        held = r.job ? { jobId: r.job.id, attempt: r.job.attempts } : null;
      }
      if (held) {
        await post(`/jobs/${held.jobId}/complete`, { botId: `idle-${i}`, attempt: held.attempt, result: null });
        done++;
      }
    }).map((loop) => loop.catch((err: unknown) => void (failure ??= err)));
    await sleep(500);
    const pid = server.proc.pid!;
    const idle0 = cpuMs(pid);
    await sleep(idleMs);
    const idleMsPerS = (cpuMs(pid) - idle0) / (idleMs / 1000);
    out.push({
      goal: 'idle',
      what: `server CPU, ${bots} bots long-polling an empty queue`,
      value: idleMsPerS,
      unit: 'ms/s',
      target: 50,
      sense: 'max',
      note: `waits of ${WAIT_MS} ms; target: 5% of one core`,
    });
    const busy0 = cpuMs(pid);
    const t0 = Date.now();
    for (let i = 0; i < jobs; i++) {
      await post('/jobs', { type: 'simulated', payload: {} }, ADMIN);
      await sleep(10);
    }
    const deadline = Date.now() + 60_000;
    while (done < jobs) {
      if (failure) throw failure;
      if (Date.now() > deadline) throw new Error(`${done} of ${jobs} jobs reported within 60 s`);
      await sleep(10);
    }
    const seconds = (Date.now() - t0) / 1000;
    const busy = cpuMs(pid) - busy0;
    out.push({
      goal: 'idle',
      what: `... server CPU per job, ${jobs} single enqueues 10 ms apart`,
      value: ((busy - idleMsPerS * seconds) * 1000) / jobs,
      unit: 'µs',
      target: null,
      sense: 'max',
      note: `above the idle rate: the enqueue, waking one claim, the claim and the report`,
    });
    stopping = true;
    await Promise.all(loops);
  } finally {
    stopping = true;
    await server.stop();
    await Promise.allSettled(loops);
    agent.destroy();
  }
}
