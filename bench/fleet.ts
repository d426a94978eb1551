/**
 * Fleets of real client processes and the drain measurement of the drain, scale and postgres goals: jobs are
 * enqueued while the queue is paused, the clients start and register, the queue resumes and the
 * clock runs until the server counts every job finished.
 */
import type { ChildProcess } from 'node:child_process';
import { ADMIN, enqueue, getJson, postJson, sleep, summary } from './http';
import { BOT_NODE_FLAGS } from '../bot/node-flags';
import { compileBot } from './compile';
import { cpuByPid, cpuSince, memoryOf, postgresBackends, spawnNode, spawnTs, type Child } from './processes';

/** bot: the real bot (bot/main.ts, compiled); lean: bench/lean-worker.ts. */
export type ClientKind = 'bot' | 'lean';

/** The compiled bot, built once per benchmark run. */
let botJs: string | undefined;

export interface Fleet {
  kind: ClientKind;
  children: Child[];
  /** Peak resident memory (VmHWM) of each client so far, MB. */
  peaksMb(): number[];
  stop(): Promise<void>;
}

/** Resolves with the first IPC message that has `key` (a child saying it is ready, say). */
export function nextMessage(proc: ChildProcess, key: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${key}" message within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: unknown) => {
      if (m && typeof m === 'object' && key in m) {
        clearTimeout(timer);
        proc.off('message', onMessage);
        proc.off('exit', onExit);
        resolve(m as Record<string, unknown>);
      }
    };
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) before "${key}"`));
    };
    proc.on('message', onMessage);
    proc.once('exit', onExit);
  });
}

/**
 * Starts `count` clients, spread over the server URLs, and waits until each is registered.
 * Bots: the real bot/main.ts, compiled to JavaScript as the image runs it, with
 * PROCESSING_DURATION_MS=0 FAILURE_RATE=0 and warn-level logs.
 */
export async function startFleet(
  kind: ClientKind,
  urls: readonly string[],
  count: number,
  prefix: string,
  extraEnv: Record<string, string> = {},
): Promise<Fleet> {
  const children: Child[] = [];
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `${prefix}-${kind}-${i}`;
    ids.push(id);
    const url = urls[i % urls.length];
    if (kind === 'bot') {
      botJs ??= compileBot();
      // The V8 flags every other start path gives a bot, so its memory is measured as it runs in production.
      children.push(
        spawnNode([...BOT_NODE_FLAGS, botJs], {
          SERVER_URL: url,
          BOT_ID: id,
          PROCESSING_DURATION_MS: '0',
          FAILURE_RATE: '0',
          LOG_LEVEL: 'warn',
          // A paused queue answers claims at once; poll fast so the resume is seen within ~10 ms.
          CLAIM_POLL_INTERVAL_MS: '10',
          ...extraEnv,
        }),
      );
    } else {
      children.push(spawnTs('bench/lean-worker.ts', { SERVER_URL: url, BOT_ID: id, ...extraEnv }, { ipc: true }));
    }
  }
  try {
    if (kind !== 'bot') {
      await Promise.all(children.map((c) => nextMessage(c.proc, 'ready')));
    } else {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const bots = await getJson<{ items: { id: string }[] }>(`${urls[0]}/bots`);
        const known = new Set(bots.items.map((b) => b.id));
        if (ids.every((id) => known.has(id))) break;
        const dead = children.find((c) => c.proc.exitCode !== null);
        if (dead || Date.now() > deadline)
          throw new Error(`bots did not register:\n${(dead ?? children[0]).output().slice(-2000)}`);
        await sleep(50);
      }
    }
  } catch (err) {
    await Promise.all(children.map((c) => c.stop(1000)));
    throw err;
  }
  return {
    kind,
    children,
    peaksMb: () =>
      children.map((c) => {
        try {
          return memoryOf(c.proc.pid!).peakMb;
        } catch {
          return NaN;
        }
      }),
    stop: async () => {
      await Promise.all(children.map((c) => c.stop(8000)));
    },
  };
}

export interface DrainResult {
  jobs: number;
  seconds: number;
  jobsPerSecond: number;
  clientPeakMb: number;
  failed: number;
  /** CPU per job during the drain (µs, user + system from /proc): the servers asked for, the clients, and with `postgres` every local PostgreSQL client backend. */
  cpuUsPerJob: { servers: number; clients: number; postgres: number | null };
}

export interface DrainCpu {
  /** Server processes whose CPU is counted. */
  serverPids?: readonly number[];
  /** Count the local PostgreSQL client backends too (all of them: the servers' pools and any other client on the machine). */
  postgres?: boolean;
}

/**
 * Pauses the queue, enqueues n jobs, starts the fleet, resumes and times until the summary of
 * urls[0] counts n more finished jobs (every server shares the database).
 */
export async function measureDrain(
  urls: readonly string[],
  kind: ClientKind,
  clients: number,
  n: number,
  prefix: string,
  extraEnv: Record<string, string> = {},
  cpu: DrainCpu = {},
): Promise<DrainResult> {
  const main = urls[0];
  const before = await summary(main);
  const finishedBefore = (before.jobs.completed ?? 0) + (before.jobs.failed ?? 0);
  const failedBefore = before.jobs.failed ?? 0;
  await postJson(`${main}/queue/pause`, {}, ADMIN);
  await enqueue(main, n);
  const fleet = await startFleet(kind, urls, clients, prefix, extraEnv);
  try {
    const clientPids = fleet.children.map((c) => c.proc.pid!);
    const serverPids = cpu.serverPids ?? [];
    const servers0 = cpuByPid(serverPids);
    const clients0 = cpuByPid(clientPids);
    const postgres0 = cpu.postgres ? cpuByPid(postgresBackends()) : null;
    const t0 = performance.now();
    await postJson(`${main}/queue/resume`, {}, ADMIN);
    let s = before;
    for (;;) {
      await sleep(20);
      s = await summary(main);
      if ((s.jobs.completed ?? 0) + (s.jobs.failed ?? 0) - finishedBefore >= n) break;
      if (performance.now() - t0 > 600_000) throw new Error('drain did not finish within 10 minutes');
      const dead = fleet.children.find((c) => c.proc.exitCode !== null);
      if (dead) throw new Error(`a ${kind} exited during the drain:\n${dead.output().slice(-2000)}`);
    }
    const seconds = (performance.now() - t0) / 1000;
    const perJob = (ms: number) => (ms * 1000) / n;
    const cpuUsPerJob = {
      servers: perJob(cpuSince(servers0, cpuByPid(serverPids))),
      clients: perJob(cpuSince(clients0, cpuByPid(clientPids))),
      postgres: postgres0 ? perJob(cpuSince(postgres0, cpuByPid(postgresBackends()))) : null,
    };
    return {
      jobs: n,
      seconds,
      jobsPerSecond: n / seconds,
      clientPeakMb: Math.max(...fleet.peaksMb()),
      failed: (s.jobs.failed ?? 0) - failedBefore,
      cpuUsPerJob,
    };
  } finally {
    await fleet.stop();
  }
}
