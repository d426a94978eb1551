/**
 * Starts the real server (`node --import tsx server/main.ts`) as a child process on a free port with
 * its own SQLite file and datalake folder, for end-to-end tests of every component.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { testTime } from './time';

export const ROOT = path.resolve(__dirname, '..', '..');
/** The tokens of the three roles every test server, bot, controller and dashboard is started with. */
export const ADMIN_TOKEN = 'test-admin-token';
export const BOT_TOKEN = 'test-bot-token';
export const VIEWER_TOKEN = 'test-viewer-token';
export const TOKENS_ENV = { ADMIN_TOKEN, BOT_TOKEN, VIEWER_TOKEN };

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = 'botfleet-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Polls check() until it holds; timeoutMs is the limit on a healthy machine, scaled by testTime(). */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 15000, stepMs = 50): Promise<void> {
  const limit = testTime(timeoutMs);
  const end = Date.now() + limit;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > end) throw new Error(`condition not met within ${limit} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export interface ServerProcess {
  url: string;
  port: number;
  dir: string;
  proc: ChildProcess;
  output: () => string;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  /** Starts a new process on the same port, files and env. */
  restart(): Promise<void>;
}

export interface StartServerOptions {
  env?: Record<string, string>;
  dir?: string;
  port?: number;
}

/** The environment of a server on 127.0.0.1:port with its files in dir: no scheduled batches, quiet logs. */
export function serverEnv(dir: string, port: number): Record<string, string> {
  return {
    SERVER_PORT: String(port),
    SERVER_HOST: '127.0.0.1',
    DATABASE_URL: `sqlite://${path.join(dir, 'jobs.db')}`,
    DATALAKE_DIR: path.join(dir, 'datalake'),
    ...TOKENS_ENV,
    POPULATE_INTERVAL_MS: '0',
    LOG_LEVEL: 'warn',
  };
}

/** Spawns the server and resolves once GET /healthz answers 200. */
export async function startServer(opts: StartServerOptions = {}): Promise<ServerProcess> {
  const dir = opts.dir ?? tempDir('botfleet-server-');
  const port = opts.port ?? (await freePort());
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ...serverEnv(dir, port),
    LOG_PRETTY: 'false',
    ...opts.env,
  };
  let out = '';
  const sp: ServerProcess = {
    url: `http://127.0.0.1:${port}`,
    port,
    dir,
    proc: undefined as unknown as ChildProcess,
    output: () => out,
    async stop() {
      const p = sp.proc;
      if (p.exitCode !== null || p.signalCode !== null) return p.exitCode;
      return new Promise((resolve) => {
        p.once('exit', (code) => resolve(code));
        p.kill('SIGTERM');
      });
    },
    async kill() {
      const p = sp.proc;
      if (p.exitCode !== null || p.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        p.once('exit', () => resolve());
        p.kill('SIGKILL');
      });
    },
    async restart() {
      await launch();
    },
  };
  const launch = async () => {
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'server', 'main.ts')], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (out += d));
    sp.proc = p;
    await waitFor(async () => {
      if (p.exitCode !== null) throw new Error(`server exited with ${p.exitCode}:\n${out}`);
      const r = await fetch(`${sp.url}/healthz`);
      return r.status === 200;
    }, 30000).catch((e) => {
      p.kill('SIGKILL');
      throw new Error(`${(e as Error).message}\n${out}`);
    });
  };
  await launch();
  return sp;
}
