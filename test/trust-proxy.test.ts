/**
 * TRUST_PROXY, both ways, on server, controller and dashboard. false (the default): X-Forwarded-*
 * headers are ignored; the client address of an audit line is the connection's, and the dashboard's
 * origin check compares with the address it was reached at. true (behind one TLS proxy): the address
 * comes from X-Forwarded-For, and the dashboard's origin check and Secure cookie from
 * X-Forwarded-Proto and X-Forwarded-Host.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { DashboardClient, startDashboard } from '../dashboard/test-support';
import { startInProcess } from './helpers/server-in-process';
import { ADMIN_TOKEN, ROOT, TOKENS_ENV, freePort, tempDir, waitFor } from './helpers/server-process';
import { testTime } from './helpers/time';

jest.setTimeout(testTime(60_000));

/** The address a proxy puts in X-Forwarded-For (TEST-NET-3: never routed). */
const FORWARDED_FOR = '203.0.113.7';
const PUBLIC_HOST = 'botfleet.example.org';

const admin = (extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${ADMIN_TOKEN}`,
  'content-type': 'application/json',
  'x-forwarded-for': FORWARDED_FOR,
  ...extra,
});

/** A logger whose JSON lines land in `lines`. */
function capture(lines: Record<string, unknown>[]) {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)));
      cb();
    },
  });
  return pino({ level: 'info' }, sink);
}

describe.each([
  { trust: false, client: '127.0.0.1' },
  { trust: true, client: FORWARDED_FOR },
])('TRUST_PROXY=$trust', ({ trust, client }) => {
  it(`the server's audit line names ${client} as the client`, async () => {
    const lines: Record<string, unknown>[] = [];
    const server = await startInProcess({ TRUST_PROXY: String(trust) }, capture(lines));
    try {
      const res = await fetch(`${server.url}/queue/pause`, { method: 'POST', headers: admin(), body: '{}' });
      expect(res.status).toBe(200);
    } finally {
      await server.close();
    }
    expect(lines.filter((l) => l.msg === 'audit')).toEqual([
      expect.objectContaining({ role: 'admin', client, action: 'POST /queue/pause' }),
    ]);
  });

  it(`the controller's audit line names ${client} as the client`, async () => {
    const server = await startInProcess();
    const port = await freePort();
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'controller', 'main.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...TOKENS_ENV,
        TRUST_PROXY: String(trust),
        CONTROLLER_PORT: String(port),
        CONTROLLER_HOST: '127.0.0.1',
        SERVER_URL: server.url,
        SCALE_DRIVER: 'process',
        BOT_REPLICAS: '0',
        CONTROLLER_STATE_FILE: path.join(tempDir('trust-proxy-'), 'state.json'),
        LOG_PRETTY: 'false',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (out += d));
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await fetch(`${base}/healthz`)).status === 200, 30_000);
      const res = await fetch(`${base}/scale`, { method: 'PUT', headers: admin(), body: '{"replicas":0}' });
      expect(res.status).toBe(200);
      await waitFor(() => out.includes('"msg":"audit"'), 10_000);
    } finally {
      await new Promise((r) => {
        p.once('exit', r);
        p.kill('SIGTERM');
      });
      await server.close();
    }
    const audits = out
      .split('\n')
      .filter((l) => l.includes('"msg":"audit"'))
      .map((l) => JSON.parse(l));
    expect(audits).toEqual([expect.objectContaining({ role: 'admin', client, action: 'PUT /scale' })]);
  });

  it(`the dashboard's origin check ${trust ? 'takes' : 'ignores'} X-Forwarded-Proto and -Host; its audit line names ${client}`, async () => {
    const server = await startInProcess();
    const lines: Record<string, unknown>[] = [];
    const dash = await startDashboard(
      {
        ...TOKENS_ENV,
        TRUST_PROXY: String(trust),
        SERVER_URL: server.url,
        CONTROLLER_URL: `http://127.0.0.1:${await freePort()}`,
      },
      capture(lines),
    );
    try {
      const proxied = {
        'x-forwarded-proto': 'https',
        'x-forwarded-host': PUBLIC_HOST,
        'x-forwarded-for': FORWARDED_FOR,
      };
      const c = new DashboardClient(dash.url);
      const signIn = await c.request('/signin', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...proxied },
        body: new URLSearchParams({ token: ADMIN_TOKEN, next: '/' }).toString(),
      });
      expect(signIn.status).toBe(303);
      // Secure only when the proxy says the browser came over HTTPS, and it is trusted.
      expect(/;\s*secure/i.test(signIn.headers.get('set-cookie') ?? '')).toBe(trust);
      c.csrf = /<meta name="csrf-token" content="([^"]*)"/.exec(await (await c.get('/')).text())![1];

      const pause = (origin: string) =>
        c.post('/actions/queue/pause', {}, { headers: { origin, accept: 'application/json', ...proxied } });
      const fromPublic = await pause(`https://${PUBLIC_HOST}`);
      const fromDirect = await pause(dash.url);
      if (trust) {
        expect(fromPublic.status).toBe(200);
        expect(fromDirect.status).toBe(403);
      } else {
        expect(fromPublic.status).toBe(403);
        expect(fromDirect.status).toBe(200);
      }
      const refused = trust ? fromDirect : fromPublic;
      expect((await refused.json()).error.message).toBe('requests from another site are not accepted');
      expect(lines.filter((l) => l.msg === 'audit')).toEqual([
        expect.objectContaining({ role: 'admin', client, action: 'POST /actions/queue/pause', status: 200 }),
      ]);
    } finally {
      await dash.close();
      await server.close();
    }
  });
});
