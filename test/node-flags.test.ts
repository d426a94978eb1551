/**
 * The V8 flags of ops/node-flags.env as bin/botfleet applies them (npm run server/bot, the image,
 * compose and the chart all start through it): a real server and a real bot started by the launcher
 * are node itself (same PID, so signals reach them), carry the flags, and run with a heap bounded by
 * them: V8's heap limit, read from a diagnostic report of the running process, is the old space
 * plus the young generation the flags set, far below V8's default on this machine.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BOT_NODE_FLAGS } from '../bot/node-flags';
import { SERVER_NODE_FLAGS } from '../server/node-flags';
import { freePort, ROOT, tempDir, waitFor } from './helpers/server-process';
import { testTime } from './helpers/time';

const MB = 1024 * 1024;
const sizeFlag = (flags: readonly string[], name: string) =>
  Number(flags.find((f) => f.startsWith(`--${name}=`))?.split('=')[1]);

interface Report {
  header: { commandLine: string[] };
  javascriptHeap: { memoryLimit: number };
}

/** Starts `bin/botfleet <component>`, waits for `ready`, asks the process for a diagnostic report. */
async function reportOf(
  component: 'server' | 'bot',
  env: Record<string, string>,
  ready: (output: string) => boolean | Promise<boolean>,
): Promise<{ report: Report; argv: string[] }> {
  const dir = tempDir(`node-flags-${component}-`);
  let output = '';
  const child: ChildProcess = spawn(path.join(ROOT, 'bin', 'botfleet'), [component], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...env,
      LOG_PRETTY: 'false',
      NODE_OPTIONS: `--report-on-signal --report-signal=SIGUSR2 --report-directory=${dir} --report-filename=report.json`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  try {
    await waitFor(() => ready(output), 30_000, 100).catch((e: Error) => {
      throw new Error(`${e.message}\n${output}`);
    });
    const argv = fs.readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    child.kill('SIGUSR2');
    const file = path.join(dir, 'report.json');
    await waitFor(() => fs.existsSync(file) && fs.statSync(file).size > 0, 10_000, 50);
    await new Promise((r) => setTimeout(r, 200)); // the report is written in one go; let it finish
    return { report: JSON.parse(fs.readFileSync(file, 'utf8')) as Report, argv };
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const defaultHeapLimit = () =>
  Number(
    execFileSync(process.execPath, ['-p', "require('v8').getHeapStatistics().heap_size_limit"], { encoding: 'utf8' }),
  );

function expectBoundedHeap({ report, argv }: { report: Report; argv: string[] }, flags: readonly string[]) {
  expect(path.basename(argv[0])).toBe('node');
  expect(argv.slice(1, 1 + flags.length)).toEqual([...flags]);
  expect(report.header.commandLine.slice(1, 1 + flags.length)).toEqual([...flags]);
  const oldMb = sizeFlag(flags, 'max-old-space-size');
  const semiMb = sizeFlag(flags, 'max-semi-space-size');
  // heap_size_limit = old space + the young generation (3 semi-spaces' worth in V8's accounting).
  expect(report.javascriptHeap.memoryLimit).toBeGreaterThanOrEqual(oldMb * MB);
  expect(report.javascriptHeap.memoryLimit).toBeLessThanOrEqual((oldMb + 3 * semiMb) * MB);
  expect(defaultHeapLimit()).toBeGreaterThan((oldMb + 3 * semiMb) * MB);
}

test(
  'bin/botfleet server: node with the server flags, its heap bounded by them',
  async () => {
    const port = await freePort();
    const dir = tempDir('node-flags-data-');
    try {
      const r = await reportOf(
        'server',
        {
          SERVER_PORT: String(port),
          SERVER_HOST: '127.0.0.1',
          DATABASE_URL: `sqlite://${path.join(dir, 'jobs.db')}`,
          DATALAKE_DIR: path.join(dir, 'datalake'),
          POPULATE_INTERVAL_MS: '0',
          LOG_LEVEL: 'warn',
        },
        async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok,
      );
      expectBoundedHeap(r, SERVER_NODE_FLAGS);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
  testTime(60_000),
);

test(
  'bin/botfleet bot: node with the bot flags (--single-threaded-gc too), its heap bounded by them',
  async () => {
    const port = await freePort(); // nothing listens: the bot keeps retrying, which is all we need
    const r = await reportOf(
      'bot',
      { SERVER_URL: `http://127.0.0.1:${port}`, BOT_ID: 'node-flags-bot', LOG_LEVEL: 'info' },
      (out) => out.includes('"event":"starting"'),
    );
    expect(BOT_NODE_FLAGS).toContain('--single-threaded-gc');
    expectBoundedHeap(r, BOT_NODE_FLAGS);
  },
  testTime(60_000),
);

test('bin/botfleet refuses an unknown component with its usage', () => {
  let status = 0;
  let stderr = '';
  try {
    execFileSync(path.join(ROOT, 'bin', 'botfleet'), ['nope'], { stdio: 'pipe' });
  } catch (err) {
    status = (err as { status: number }).status;
    stderr = String((err as { stderr: Buffer }).stderr);
  }
  expect(status).toBe(64);
  expect(stderr).toContain('usage: botfleet server|bot|controller|dashboard');
});
