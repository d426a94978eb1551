/**
 * Real child processes for the benchmark (the server, bots, lean clients, BullMQ workers, the
 * dashboard) and what the kernel says about them: CPU time from /proc/<pid>/stat, memory from
 * /proc/<pid>/status (VmRSS now, VmHWM the peak).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BOT_TOKEN,
  freePort,
  ROOT,
  serverEnv,
  tempDir,
  waitFor,
  type ServerProcess,
  type StartServerOptions,
} from '../test/helpers/server-process';
import { SERVER_NODE_FLAGS } from '../server/node-flags';
import { compileServer } from './compile';

export interface Child {
  proc: ChildProcess;
  output: () => string;
  /** SIGTERM, then SIGKILL after graceMs; resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Runs a TypeScript entry point under tsx with extra env; stdout/stderr kept (tail) for errors. */
export function spawnTs(
  entry: string,
  env: Record<string, string>,
  opts: { ipc?: boolean; args?: string[] } = {},
): Child {
  return spawnNode(['--import', 'tsx', path.join(ROOT, entry), ...(opts.args ?? [])], env, opts);
}

/** Runs node with these arguments (V8 flags and a compiled .js entry point, say). */
export function spawnNode(args: string[], env: Record<string, string>, opts: { ipc?: boolean } = {}): Child {
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, LOG_PRETTY: 'false', BOT_TOKEN, ...env },
    stdio: opts.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 20_000) out = out.slice(-10_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  return {
    proc,
    output: () => out,
    stop: (graceMs = 5000) => stopChild(proc, graceMs),
  };
}

function stopChild(proc: ChildProcess, graceMs = 5000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    proc.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

/** CPU time (user + system) a process has used so far, ms; robust to the machine's load, unlike a rate. */
export function cpuMs(pid: number): number {
  const f = fs
    .readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /s, '')
    .split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** Local `postgres` processes that serve a client connection ("postgres: … user db 127.0.0.1(port) state"). */
export function postgresBackends(): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/comm`, 'utf8').trim() !== 'postgres') continue;
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (/\(\d+\)|\[local\]/.test(cmd)) out.push(Number(d));
    } catch {
      // the process ended between the listing and the read
    }
  }
  return out;
}

/** CPU so far (ms) of each pid that is still there. */
export function cpuByPid(pids: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      out.set(pid, cpuMs(pid));
    } catch {
      // ended since the listing
    }
  }
  return out;
}

/** CPU ms of `now` over `then`; a process that is only in `now` began meanwhile and counts whole. */
export function cpuSince(then: Map<number, number>, now: Map<number, number>): number {
  let ms = 0;
  for (const [pid, v] of now) ms += v - (then.get(pid) ?? 0);
  return ms;
}

/** The cores this machine gives the benchmark. */
export const CORES = os.availableParallelism();

/** CPU per job (µs) the cores have at `jobsPerSecond`: the budget of everything a job costs. */
export function cpuBudgetUs(jobsPerSecond: number): number {
  return (CORES * 1e6) / jobsPerSecond;
}

/** Resident memory of a process in MB: current (VmRSS) and peak (VmHWM). */
export function memoryOf(pid: number): { rssMb: number; peakMb: number } {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

/** Samples VmRSS every intervalMs until stopped; returns the highest sample. */
export function sampleRss(pid: number, intervalMs = 20): { stop: () => number } {
  let max = 0;
  const take = () => {
    try {
      max = Math.max(max, memoryOf(pid).rssMb);
    } catch {
      /* exited */
    }
  };
  take();
  const t = setInterval(take, intervalMs);
  return {
    stop: () => {
      clearInterval(t);
      take();
      return max;
    },
  };
}

/** The machine's load average at this moment, for the record (other engineers share the cores). */
export function loadAverage(): string {
  try {
    return fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}

/**
 * The real server, compiled to JavaScript as the image runs it (bench/compile.ts), on a free port
 * with its own SQLite file and datalake folder (the layout of test/helpers/server-process.ts). The
 * benchmark is the admin here and sends thousands of admin calls, so the admin rate limit is off;
 * everything else is the server's default, and node runs with the V8 flags of every other start
 * path (server/node-flags.ts).
 */
export async function startBenchServer(opts: StartServerOptions = {}): Promise<ServerProcess> {
  const entry = compileServer();
  const dir = opts.dir ?? ownDir();
  const port = opts.port ?? (await freePort());
  const env: Record<string, string> = {
    ...serverEnv(dir, port),
    RATE_LIMIT_ADMIN_PER_S: '0',
    ...opts.env,
  };
  let child: Child | null = null;
  const sp: ServerProcess = {
    url: `http://127.0.0.1:${port}`,
    port,
    dir,
    proc: undefined as unknown as ChildProcess,
    output: () => child?.output() ?? '',
    async stop() {
      await child?.stop(15_000);
      return sp.proc.exitCode;
    },
    async kill() {
      await child?.stop(0);
    },
    async restart() {
      await launch();
    },
  };
  const launch = async () => {
    child = spawnNode([...SERVER_NODE_FLAGS, entry], env);
    sp.proc = child.proc;
    const c = child;
    await waitFor(async () => {
      if (c.proc.exitCode !== null) throw new Error(`server exited with ${c.proc.exitCode}:\n${c.output()}`);
      return (await fetch(`${sp.url}/healthz`)).status === 200;
    }, 30_000).catch(async (err: Error) => {
      await c.stop(0);
      throw new Error(`${err.message}\n${c.output().slice(-3000)}`);
    });
  };
  await launch();
  return sp;
}

const ownDirs: string[] = [];

function ownDir(): string {
  const dir = tempDir('botfleet-bench-');
  ownDirs.push(dir);
  return dir;
}

/** Deletes the folders of the servers this run created (a seeded database is ~500 MB). */
export function removeBenchDirs(): void {
  for (const dir of ownDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}
