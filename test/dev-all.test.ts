/**
 * `npm run dev:all` for real: every process comes up, work flows, a bot that dies is reported, and
 * one SIGINT (Ctrl-C) leaves no process behind, grandchildren (the controller's bots) included.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { serverApi } from '../bot/testing/bot-process';
import { TOKENS_ENV, ROOT, freePort, startServer, tempDir, waitFor } from './helpers/server-process';
import { BOT_NODE_FLAGS } from '../bot/node-flags';
import { SERVER_NODE_FLAGS } from '../server/node-flags';
import { testTime } from './helpers/time';

jest.setTimeout(testTime(90000));

/** Every live descendant of pid (zombies count as gone: they hold no resources and cannot run). */
function descendants(pid: number): { pid: number; cmd: string }[] {
  const byParent = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z') continue;
      byParent.set(Number(ppid), [...(byParent.get(Number(ppid)) ?? []), Number(entry)]);
    } catch {
      /* exited meanwhile */
    }
  }
  const out: { pid: number; cmd: string }[] = [];
  const walk = (p: number) => {
    for (const c of byParent.get(p) ?? []) {
      let cmd = '';
      try {
        cmd = fs.readFileSync(`/proc/${c}/cmdline`, 'utf8').replace(/\0/g, ' ');
      } catch {
        /* gone */
      }
      out.push({ pid: c, cmd });
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function isRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

let proc: ChildProcess | undefined;
let seen: number[] = [];
afterEach(() => {
  // Only if the test failed half-way: kill whatever it started.
  for (const pid of [...seen, proc?.pid ?? 0]) {
    try {
      if (pid) process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  seen = [];
});

async function devAll(env: Record<string, string>) {
  const dir = tempDir('botfleet-devall-');
  const serverPort = env.SERVER_PORT ? Number(env.SERVER_PORT) : await freePort();
  const [dashboardPort, controllerPort] = [await freePort(), await freePort()];
  let out = '';
  proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', 'dev-all.ts')], {
    cwd: ROOT,
    env: {
      ...(process.env as Record<string, string>),
      SERVER_PORT: String(serverPort),
      SERVER_HOST: '127.0.0.1',
      DASHBOARD_PORT: String(dashboardPort),
      CONTROLLER_PORT: String(controllerPort),
      DATABASE_URL: `sqlite://${path.join(dir, 'jobs.db')}`,
      DATALAKE_DIR: path.join(dir, 'datalake'),
      CONTROLLER_STATE_FILE: path.join(dir, 'controller-state.json'),
      ...TOKENS_ENV,
      POPULATE_INTERVAL_MS: '0',
      PROCESSING_DURATION_MS: '200',
      FAILURE_RATE: '0',
      HEARTBEAT_INTERVAL_MS: '1000',
      LOG_LEVEL: 'info',
      DEV_ALL_PRETTY: 'true',
      DEV_ALL_STOP_TIMEOUT_MS: '15000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc!.once('exit', (code) => resolve(code)));
  const api = serverApi(`http://127.0.0.1:${serverPort}`);
  const upWithBots = async () => {
    await waitFor(
      async () => (await api.bots()).items.filter((b) => b.status !== 'down').length === 3,
      60000,
      250,
    ).catch(() => {
      throw new Error(`three bots did not register; dev:all output:\n${out}`);
    });
  };
  return { api, output: () => out, exited, upWithBots, dashboardPort, controllerPort };
}

async function processesWork(api: ReturnType<typeof serverApi>) {
  const { items } = await api
    .call<{ items: { id: string }[] }>('POST', '/jobs/populate', { count: 6 })
    .then((r) => r.body);
  const done = await Promise.all(items.map((j) => api.waitForJob(j.id, ['completed'], 20000)));
  return new Set(done.map((j) => j.botId));
}

async function interruptAndCheckNothingLeft(d: Awaited<ReturnType<typeof devAll>>) {
  const tree = descendants(proc!.pid!);
  seen = tree.map((p) => p.pid);
  proc!.kill('SIGINT');
  expect(await d.exited).toBe(0);
  await waitFor(() => tree.every((p) => !isRunning(p.pid)), 5000).catch(() => undefined);
  expect(tree.filter((p) => isRunning(p.pid))).toEqual([]);
  expect(d.output()).toContain('[dev-all]     all processes stopped');
  return tree;
}

test('dev:all brings up server, dashboard, controller and 3 bots, and one SIGINT leaves none behind', async () => {
  const d = await devAll({});
  await d.upWithBots();
  await waitFor(async () => (await fetch(`http://127.0.0.1:${d.dashboardPort}/healthz`)).ok, 30000);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${d.controllerPort}/healthz`)).ok, 30000);
  expect((await processesWork(d.api)).size).toBeGreaterThanOrEqual(1);

  const tree = await interruptAndCheckNothingLeft(d);
  const count = (script: string) => tree.filter((p) => p.cmd.includes(script)).length;
  expect(count('server/main.ts')).toBe(1);
  expect(count('bot/main.ts')).toBe(3);
  // Started with the heap flags, as `npm run server/bot` and the image start them (server/node-flags.ts).
  expect(tree.find((p) => p.cmd.includes('server/main.ts'))!.cmd).toContain(SERVER_NODE_FLAGS.join(' '));
  for (const b of tree.filter((p) => p.cmd.includes('bot/main.ts'))) expect(b.cmd).toContain(BOT_NODE_FLAGS.join(' '));
  expect(d.output()).toMatch(/^\[server\] +\d\d:\d\d:\d\d INFO/m);
  // The controller relays its bots' lines as "bot-2 | {json}"; dev:all formats the JSON part.
  expect(d.output()).toMatch(/^\[controller\] +bot-\d \| \d\d:\d\d:\d\d INFO +registered/m);
});

test('`dev:all | tee log` then Ctrl-C: the reader of its output dies with it, and still no process stays behind', async () => {
  const d = await devAll({ DEV_ALL_BOTS: 'self' });
  await d.upWithBots();
  const tree = descendants(proc!.pid!);
  seen = tree.map((p) => p.pid);
  // Ctrl-C reaches tee as well: its end of the pipe closes before dev:all writes what it is stopping.
  proc!.stdout!.destroy();
  proc!.kill('SIGINT');
  expect(await d.exited).toBe(0);
  await waitFor(() => tree.every((p) => !isRunning(p.pid)), 5000).catch(() => undefined);
  expect(tree.filter((p) => isRunning(p.pid))).toEqual([]);
  expect(tree.filter((p) => p.cmd.includes('server/main.ts'))).toHaveLength(1);
});

test('DEV_ALL_BOTS=self: dev:all runs bot-1..bot-3 itself and reports one that dies', async () => {
  const d = await devAll({ DEV_ALL_BOTS: 'self' });
  await d.upWithBots();
  expect((await d.api.bots()).items.map((b) => b.id).sort()).toEqual(['bot-1', 'bot-2', 'bot-3']);
  const bot2 = descendants(proc!.pid!).find(
    (p) => p.cmd.includes('bot/main.ts') && d.output().includes(`started bot-2 (pid ${p.pid})`),
  );
  expect(bot2).toBeDefined();
  process.kill(bot2!.pid, 'SIGKILL');
  await waitFor(() => d.output().includes(`bot-2 (pid ${bot2!.pid}) exited unexpectedly (signal SIGKILL)`), 5000);
  await interruptAndCheckNothingLeft(d);
  expect(d.output()).toMatch(/^\[bot-1\] +\d\d:\d\d:\d\d INFO +registered/m);
});

test('dev:all refuses to start when another server already answers on SERVER_PORT', async () => {
  const other = await startServer();
  try {
    const d = await devAll({ SERVER_PORT: String(other.port) });
    expect(await d.exited).toBe(1);
    expect(d.output()).toContain(`something already answers at http://127.0.0.1:${other.port}`);
    expect(d.output()).not.toContain('started server');
  } finally {
    await other.kill();
  }
});
