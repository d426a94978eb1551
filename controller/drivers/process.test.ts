/**
 * The process driver with real child processes (small `node -e` programs standing in for bots) and
 * the real job server; the full scenario with real bots is test/controller-process-driver.test.ts.
 */
import { PassThrough } from 'node:stream';
import { silentLogger } from '../../core/logger';
import {
  ADMIN_TOKEN,
  BOT_TOKEN,
  VIEWER_TOKEN,
  startServer,
  waitFor,
  type ServerProcess,
} from '../../test/helpers/server-process';
import { HttpServerClient } from '../server-client';
import { DrainUnknownError } from './driver';
import { ProcessDriver, type ProcessDriverOptions } from './process';
import { testTime } from '../../test/helpers/time';

let server: ServerProcess;
const drivers: ProcessDriver[] = [];
const tokens = { viewer: VIEWER_TOKEN, admin: ADMIN_TOKEN };

beforeAll(async () => {
  server = await startServer();
}, testTime(60000));

afterAll(async () => {
  await Promise.all(drivers.map((d) => d.shutdown()));
  await server?.stop();
});

function driver(script: string, over: Partial<ProcessDriverOptions> = {}): { d: ProcessDriver; out: () => string } {
  const sink = new PassThrough();
  let text = '';
  sink.on('data', (c) => (text += c));
  const d = new ProcessDriver({
    command: ['node', '-e', script],
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? '', EXTRA_SETTING: 'passed-on' },
    idPrefix: 'unit',
    serverUrl: server.url,
    botToken: BOT_TOKEN,
    server: new HttpServerClient(server.url, 2000, tokens),
    logger: silentLogger(),
    stopGraceMs: 5000,
    restartBackoffMs: 1000,
    restartBackoffMaxMs: 30000,
    output: sink,
    ...over,
  });
  drivers.push(d);
  return { d, out: () => text };
}

const IDLE_FOREVER = 'setInterval(() => {}, 1000)';
const alive = (pid: number | undefined) => {
  try {
    process.kill(pid!, 0);
    return true;
  } catch {
    return false;
  }
};

describe('process driver', () => {
  it('gives each child BOT_ID, SERVER_URL, BOT_TOKEN and its own environment, and prefixes each output line with the bot id', async () => {
    const { d, out } = driver(
      `console.log([process.env.BOT_ID, process.env.SERVER_URL, process.env.BOT_TOKEN, process.env.EXTRA_SETTING].join(' ')); console.error('second line'); ${IDLE_FOREVER}`,
    );
    await d.scale(0, 2);
    expect(d.botIds()).toEqual(['unit-1', 'unit-2']);
    await waitFor(() => out().split('\n').filter(Boolean).length === 4, 10000);
    expect(out()).toContain(`unit-1 | unit-1 ${server.url} ${BOT_TOKEN} passed-on\n`);
    expect(out()).toContain(`unit-2 | unit-2 ${server.url} ${BOT_TOKEN} passed-on\n`);
    expect(out()).toContain('unit-2 | second line\n');
    expect(await d.observe()).toEqual({ current: 2, ready: 0 }); // not registered at the server: not ready
    await d.shutdown();
  });

  it('counts a child as ready once its id is registered and not down at the server', async () => {
    const { d } = driver(IDLE_FOREVER, { idPrefix: 'ready' });
    await d.scale(0, 2);
    await fetch(`${server.url}/bots/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${BOT_TOKEN}` },
      body: JSON.stringify({ id: 'ready-2' }),
    });
    expect(await d.observe()).toEqual({ current: 2, ready: 1 });
    await d.shutdown();
  });

  it('SIGKILLs a bot that ignores SIGTERM once the grace period is over, and removes it from the server', async () => {
    const { d, out } = driver(
      `process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('handler installed'); ${IDLE_FOREVER}`,
      {
        idPrefix: 'stubborn',
        stopGraceMs: 700,
      },
    );
    await d.scale(0, 1);
    const pid = d.pidOf('stubborn-1');
    await fetch(`${server.url}/bots/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${BOT_TOKEN}` },
      body: JSON.stringify({ id: 'stubborn-1' }),
    });
    await waitFor(() => out().includes('stubborn-1 | handler installed'), 10000); // however slowly the child starts
    const t0 = Date.now();
    await d.scale(1, 0);
    expect(d.botIds()).toEqual([]);
    await d.shutdown(); // waits for the stopping bot
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(650);
    expect(took).toBeLessThan(testTime(5000));
    expect(alive(pid)).toBe(false);
    expect(out()).toContain('stubborn-1 | ignoring SIGTERM');
    const gone = await fetch(`${server.url}/bots/stubborn-1`, { headers: { Authorization: `Bearer ${VIEWER_TOKEN}` } });
    expect(gone.status).toBe(404);
  });

  it('restarts a child that keeps dying, with a growing delay', async () => {
    const { d, out } = driver(`console.log('up'); process.exit(3)`, {
      idPrefix: 'crashy',
      restartBackoffMs: 50,
      restartBackoffMaxMs: 400,
    });
    await d.scale(0, 1);
    const starts = () =>
      out()
        .split('\n')
        .filter((l) => l === 'crashy-1 | up').length;
    await waitFor(() => starts() >= 3, 10000); // it is restarted...
    await new Promise((r) => setTimeout(r, 1200));
    // ...with delays of 50, 100, 200, 400, 400 ... plus start-up time: a few more, not hundreds.
    expect(starts()).toBeLessThanOrEqual(10);
    expect((await d.observe()).current).toBe(1);
    await d.shutdown();
    const after = out().length;
    await new Promise((r) => setTimeout(r, 600));
    expect(out().length).toBe(after); // no restart after shutdown
  });

  it('postpones a scale-down, stopping nothing, when the server cannot say who is busy', async () => {
    const { d } = driver(IDLE_FOREVER, {
      idPrefix: 'blind',
      server: new HttpServerClient('http://127.0.0.1:9', 500, tokens),
    });
    await d.scale(0, 2);
    const pids = d.botIds().map((id) => d.pidOf(id));
    await expect(d.scale(2, 1)).rejects.toBeInstanceOf(DrainUnknownError);
    expect(d.botIds()).toEqual(['blind-1', 'blind-2']);
    expect(pids.every(alive)).toBe(true);
    await d.shutdown();
    expect(pids.some(alive)).toBe(false);
  });
});
