/**
 * The controller's HTTP contract (docs/controller.md): roles (viewer reads, admin changes), error shapes, validation naming
 * fields, body limits, bounds, and that concurrent changes are serialised. The controller runs in
 * this process with its kubernetes driver against the real API server of the local cluster, as the
 * chart's ServiceAccount, and the real job server.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock } from '../core/clock';
import { silentLogger } from '../core/logger';
import { Autoscaler } from '../controller/autoscaler';
import type { DesiredState } from '../controller/desired-state';
import { KubernetesConfigMapAccess, KubernetesScaleDriver } from '../controller/drivers/kubernetes';
import { createControllerApp } from '../controller/http/app';
import { ReconcileLoop } from '../controller/reconcile-loop';
import { HttpServerClient } from '../controller/server-client';
import { ConfigMapStateStore } from '../controller/state/configmap-store';
import {
  BOTS_DEPLOYMENT,
  CONTROLLER_CONFIGMAP as CONFIGMAP,
  createControllerNamespace,
  type ControllerNamespace,
} from './deploy-kube';
import { ADMIN_TOKEN, BOT_TOKEN, VIEWER_TOKEN, startServer, type ServerProcess } from './helpers/server-process';
import { testTime } from './helpers/time';

const MAX_BOTS = 6;
const defaults: DesiredState = { replicas: 2, autoscale: { enabled: false, min: 1, max: 4, jobsPerBot: 3 } };
let server: ServerProcess;
let ns: ControllerNamespace;
let driver: KubernetesScaleDriver;
let loop: ReconcileLoop;
let httpServer: http.Server;
let base: string;

async function call(method: string, path: string, opts: { body?: string; type?: string; token?: string | null } = {}) {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  if (opts.type) headers['Content-Type'] = opts.type;
  const res = await fetch(`${base}${path}`, { method, headers, body: opts.body });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : null,
  };
}
const json = (method: string, path: string, body: unknown, token?: string | null) =>
  call(method, path, { body: JSON.stringify(body), type: 'application/json', token });

beforeAll(async () => {
  [server, ns] = await Promise.all([startServer(), createControllerNamespace('controller-http')]);
  const logger = silentLogger();
  const serverClient = new HttpServerClient(server.url, 3000, { viewer: VIEWER_TOKEN, admin: ADMIN_TOKEN });
  driver = new KubernetesScaleDriver(ns.serviceAccount, {
    namespace: ns.namespace,
    deployment: BOTS_DEPLOYMENT,
    configMap: CONFIGMAP,
    server: serverClient,
    logger,
  });
  const store = new ConfigMapStateStore(
    new KubernetesConfigMapAccess(ns.serviceAccount, ns.namespace),
    CONFIGMAP,
    MAX_BOTS,
    defaults,
  );
  loop = new ReconcileLoop({
    store,
    driver,
    server: serverClient,
    autoscaler: new Autoscaler(systemClock, 0),
    defaults,
    maxBots: MAX_BOTS,
    intervalMs: 3_600_000,
    logger,
  });
  await loop.start();
  await ns.waitForReadyPods(2);
  httpServer = http.createServer(
    createControllerApp({
      loop,
      driver,
      tokens: { admin: [ADMIN_TOKEN], viewer: [VIEWER_TOKEN], bot: [BOT_TOKEN] },
      maxBots: MAX_BOTS,
      bodyLimitBytes: 1024,
      logger,
    }).callback(),
  );
  await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
}, testTime(120_000));

afterAll(async () => {
  await loop?.stop();
  if (httpServer) {
    httpServer.closeAllConnections();
    await new Promise((r) => httpServer.close(r));
  }
  await driver?.shutdown();
  await ns?.remove();
  await server?.stop();
});

describe('controller HTTP API', () => {
  it('serves GET /healthz to anyone and GET /scale to a viewer or admin (401 without a token, 403 for a bot)', async () => {
    expect(await call('GET', '/healthz', { token: null })).toMatchObject({
      status: 200,
      body: { status: 'ok', driver: 'kubernetes', lastReconcile: { error: null } },
    });
    for (const token of [VIEWER_TOKEN, ADMIN_TOKEN]) {
      expect((await call('GET', '/scale', { token })).body).toEqual({
        driver: 'kubernetes',
        desired: 2,
        current: 2,
        ready: 2,
        autoscale: defaults.autoscale,
      });
    }
    expect((await call('GET', '/scale', { token: null })).status).toBe(401);
    expect((await call('GET', '/scale', { token: BOT_TOKEN })).status).toBe(403);
  });

  it('refuses every change without the admin token, with a wrong one, or with another scheme', async () => {
    for (const token of [null, 'wrong-token', `${ADMIN_TOKEN}x`, '', VIEWER_TOKEN, BOT_TOKEN]) {
      for (const [method, path, body] of [
        ['PUT', '/scale', { replicas: 1 }],
        ['POST', '/scale/add', undefined],
        ['POST', '/scale/remove', undefined],
        ['PUT', '/autoscale', { enabled: true }],
      ] as const) {
        const r = body === undefined ? await call(method, path, { token }) : await json(method, path, body, token);
        if (token === VIEWER_TOKEN || token === BOT_TOKEN) {
          expect(r.status).toBe(403); // a known token of another role
          expect(r.body).toEqual({ error: { code: 'forbidden', message: expect.any(String) } });
          continue;
        }
        expect(r.status).toBe(401);
        expect(r.headers.get('www-authenticate')).toBe('Bearer');
        expect(r.body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
      }
    }
    const basic = await fetch(`${base}/scale/add`, {
      method: 'POST',
      headers: { Authorization: `Basic ${ADMIN_TOKEN}` },
    });
    expect(basic.status).toBe(401);
    expect(await ns.replicas()).toBe(2);
  });

  it('answers 400 naming the field for a bad body, and for malformed JSON', async () => {
    const cases: [unknown, string][] = [
      [{ replicas: -1 }, 'replicas'],
      [{ replicas: 1.5 }, 'replicas'],
      [{ replicas: '3' }, 'replicas'],
      [{ replicas: MAX_BOTS + 1 }, 'replicas'],
      [{}, 'replicas'],
      [{ replicas: 1, extra: true }, '(root)'],
    ];
    for (const [body, field] of cases) {
      const r = await json('PUT', '/scale', body);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({
        error: {
          code: 'validation_failed',
          details: expect.arrayContaining([expect.objectContaining({ path: field })]),
        },
      });
    }
    const bad = await call('PUT', '/scale', { body: '{"replicas": ', type: 'application/json' });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'validation_failed' } } });
    const auto = await json('PUT', '/autoscale', { enabled: true, min: 5, max: 2 });
    expect(auto).toMatchObject({ status: 400, body: { error: { details: [{ path: 'min' }] } } });
    expect((await json('PUT', '/autoscale', { enabled: 'yes' })).body).toMatchObject({
      error: { details: [{ path: 'enabled' }] },
    });
    expect((await json('PUT', '/autoscale', { enabled: true, max: MAX_BOTS + 1 })).body).toMatchObject({
      error: { details: [{ path: 'max' }] },
    });
  });

  it('answers 415 for a body that is not JSON and 413 (not a reset connection) for one over the limit', async () => {
    expect(
      await call('PUT', '/scale', { body: 'replicas=3', type: 'application/x-www-form-urlencoded' }),
    ).toMatchObject({ status: 415, body: { error: { code: 'unsupported_media_type' } } });
    const big = JSON.stringify({ replicas: 1, pad: 'x'.repeat(200_000) });
    expect(await call('PUT', '/scale', { body: big, type: 'application/json' })).toMatchObject({
      status: 413,
      body: { error: { code: 'payload_too_large' } },
    });
  });

  it('answers 404 for an unknown route and 405 for a known route with the wrong method, both as JSON', async () => {
    expect(await call('GET', '/nope')).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    const r = await call('DELETE', '/scale');
    expect(r).toMatchObject({ status: 405, body: { error: { code: 'method_not_allowed' } } });
    expect(r.headers.get('allow')).toContain('PUT');
  });

  it('adds and removes one bot at a time within 0..MAX_BOTS, 409 beyond', async () => {
    expect((await json('PUT', '/scale', { replicas: MAX_BOTS - 1 })).body).toMatchObject({
      desired: MAX_BOTS - 1,
      current: MAX_BOTS - 1,
    });
    expect((await call('POST', '/scale/add')).body).toMatchObject({ desired: MAX_BOTS, current: MAX_BOTS });
    expect(await call('POST', '/scale/add')).toMatchObject({
      status: 409,
      body: { error: { code: 'max_bots_reached' } },
    });
    expect(await ns.replicas()).toBe(MAX_BOTS);
    expect((await json('PUT', '/scale', { replicas: 1 })).body).toMatchObject({ desired: 1 });
    expect((await call('POST', '/scale/remove')).body).toMatchObject({ desired: 0, current: 0 });
    expect(await call('POST', '/scale/remove')).toMatchObject({ status: 409, body: { error: { code: 'no_bots' } } });
  });

  it('serialises concurrent changes: five simultaneous Add Bot presses give five more bots', async () => {
    const results = await Promise.all(Array.from({ length: 5 }, () => call('POST', '/scale/add')));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(results.map((r) => (r.body as { desired: number }).desired).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(await ns.replicas()).toBe(5);
    expect((await ns.configMap())!.replicas).toBe('5');
  });

  it('keeps autoscale fields that a PUT /autoscale leaves out', async () => {
    const r = await json('PUT', '/autoscale', { enabled: false, jobsPerBot: 7 });
    expect(r.body).toMatchObject({ autoscale: { enabled: false, min: 1, max: 4, jobsPerBot: 7 } });
    expect((await ns.configMap())!['autoscale.jobsPerBot']).toBe('7');
  });
});
