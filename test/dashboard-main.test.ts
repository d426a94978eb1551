/** dashboard/main.ts as a real process: --help, every bad variable named, health, JSON logs, SIGTERM. */
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT, freePort, waitFor } from './helpers/server-process';
import { testTime } from './helpers/time';

const MAIN = path.join(ROOT, 'dashboard', 'main.ts');
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: testTime(20_000),
  });

it('prints --help and exits 0', () => {
  const r = run(['--help']);
  expect(r.status).toBe(0);
  expect(r.stdout).toContain('DASHBOARD_PORT');
  expect(r.stdout).toContain('CONTROLLER_URL');
});

it('names every bad variable and exits 1', () => {
  const r = run([], { DASHBOARD_PORT: 'abc', SERVER_URL: 'ftp://x', SESSION_TTL_MS: '5', LOG_LEVEL: 'loud' });
  expect(r.status).toBe(1);
  for (const v of ['DASHBOARD_PORT', 'SERVER_URL', 'SESSION_TTL_MS', 'LOG_LEVEL']) expect(r.stderr).toContain(v);
});

it('serves /healthz, logs JSON and stops cleanly on SIGTERM', async () => {
  const port = await freePort();
  const p = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: ROOT,
    env: {
      ...process.env,
      DASHBOARD_PORT: String(port),
      DASHBOARD_HOST: '127.0.0.1',
      LOG_PRETTY: 'false',
      LOG_LEVEL: 'info',
      SERVER_URL: 'http://127.0.0.1:9',
      CONTROLLER_URL: 'http://127.0.0.1:9',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (out += d));
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200, 20_000);
    // A stranger is sent to sign in; with the default viewer token the overview renders, with nothing upstream.
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/`, { redirect: 'manual' })).headers.get('location')).toBe('/signin?next=%2F');
    const signin = await fetch(`${base}/signin`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: 'viewer-dev-token-change-me', next: '/' }).toString(),
    });
    expect(signin.status).toBe(303);
    const cookie = (signin.headers.get('set-cookie') ?? '').split(';')[0];
    expect((await fetch(`${base}/`, { headers: { cookie } })).status).toBe(200);
    const code = await new Promise<number | null>((resolve) => {
      p.once('exit', (c) => resolve(c));
      p.kill('SIGTERM');
    });
    expect(code).toBe(0);
    const lines = out
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['dashboard listening', 'dashboard stopping', 'dashboard stopped']),
    );
    // One warning per default token in use, naming the variable and never the value.
    const warnings = lines.filter((l) => l.event === 'default token').map((l) => l.msg as string);
    expect(warnings.map((w) => w.split(' ')[0])).toEqual(['ADMIN_TOKEN', 'VIEWER_TOKEN']);
    expect(out).not.toContain('admin-dev-token-change-me');
  } finally {
    if (p.exitCode === null) p.kill('SIGKILL');
  }
});
