/**
 * The controller's kubernetes driver against a fake Kubernetes API server (test/helpers/
 * fake-kube-api.ts: a local HTTP server answering exactly the calls the driver makes, since no
 * cluster exists here), with the REAL job server telling which bots are busy, and the controller's
 * real HTTP API, reconcile loop and ConfigMap store in this process.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../core/clock';
import { silentLogger } from '../core/logger';
import { Autoscaler } from '../controller/autoscaler';
import { HARD_MAX_BOTS, type DesiredState } from '../controller/desired-state';
import { DELETION_COST, POD_DELETION_COST_ANNOTATION } from '../controller/drivers/drain-order';
import { KubernetesConfigMapAccess, KubernetesScaleDriver, loadKubeConfig } from '../controller/drivers/kubernetes';
import { createControllerApp } from '../controller/http/app';
import { ReconcileLoop } from '../controller/reconcile-loop';
import { HttpServerClient } from '../controller/server-client';
import { ConfigMapStateStore } from '../controller/state/configmap-store';
import { startFakeKubeApi, type FakeKubeApi } from './helpers/fake-kube-api';
import { ADMIN_TOKEN, startServer, tempDir, type ServerProcess } from './helpers/server-process';
import { testTime } from './helpers/time';

const CONFIGMAP = 'botfleet-controller';
const COOLDOWN_MS = 60000;
const defaults: DesiredState = { replicas: 3, autoscale: { enabled: false, min: 1, max: 6, jobsPerBot: 2 } };

let server: ServerProcess;
let kube: FakeKubeApi;
let loop: ReconcileLoop;
let http_: http.Server;
let base: string;
const clock = new ManualClock(Date.now());

async function call(method: string, path: string, body?: unknown, token: string | null = ADMIN_TOKEN) {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function serverCall(method: string, path: string, body?: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: res.status === 204 ? null : ((await res.json()) as Record<string, unknown>) };
}

const scalePatches = () => kube.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith('/scale'));

beforeAll(async () => {
  const dir = tempDir('controller-k8s-');
  [server, kube] = await Promise.all([startServer(), startFakeKubeApi({ dir, replicas: 1 })]);
  const logger = silentLogger();
  const serverClient = new HttpServerClient(server.url, 3000);
  const kc = loadKubeConfig({ kubeconfigFile: kube.kubeconfigPath, inCluster: false });
  const driver = new KubernetesScaleDriver(kc, {
    namespace: kube.namespace,
    deployment: kube.deploymentName,
    server: serverClient,
    logger,
  });
  const store = new ConfigMapStateStore(
    new KubernetesConfigMapAccess(kc, kube.namespace),
    CONFIGMAP,
    HARD_MAX_BOTS,
    defaults,
  );
  loop = new ReconcileLoop({
    store,
    driver,
    server: serverClient,
    autoscaler: new Autoscaler(clock, COOLDOWN_MS),
    defaults,
    maxBots: 10,
    intervalMs: 3_600_000,
    logger,
  });
  http_ = http.createServer(
    createControllerApp({
      loop,
      driver,
      adminToken: ADMIN_TOKEN,
      maxBots: 10,
      bodyLimitBytes: 4096,
      logger,
    }).callback(),
  );
  await new Promise<void>((r) => http_.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(http_.address() as AddressInfo).port}`;
  fs.rmSync(dir, { recursive: true, force: true }); // the client has read the kubeconfig
}, testTime(60000));

afterAll(async () => {
  await loop?.stop();
  if (http_) {
    http_.closeAllConnections();
    await new Promise((r) => http_.close(r));
  }
  await kube?.close();
  await server?.stop();
});

describe('kubernetes driver against a fake Kubernetes API server', () => {
  it('creates the missing ConfigMap from the defaults and scales the Deployment through a merge patch of its scale subresource', async () => {
    await loop.start();
    expect(kube.configMap(CONFIGMAP)).toEqual({
      replicas: '3',
      'autoscale.enabled': 'false',
      'autoscale.min': '1',
      'autoscale.max': '6',
      'autoscale.jobsPerBot': '2',
    });
    expect(kube.replicas()).toBe(3);
    expect(kube.pods()).toHaveLength(3);
    expect(scalePatches()).toHaveLength(1);
    expect(scalePatches()[0]).toMatchObject({
      contentType: 'application/merge-patch+json',
      body: { spec: { replicas: 3 } },
    });
    // The Deployment itself is never replaced or patched (helm owns it).
    expect(
      kube.requests.filter((r) => r.path.endsWith(`/deployments/${kube.deploymentName}`) && r.method !== 'GET'),
    ).toEqual([]);
    // Scaling up needs no drain: no pod was touched.
    expect(kube.requests.filter((r) => r.path.includes('/pods'))).toEqual([]);
  });

  it('answers GET /scale with desired, current and ready from the Deployment', async () => {
    const r = await call('GET', '/scale', undefined, null);
    expect(r).toEqual({
      status: 200,
      body: { driver: 'kubernetes', desired: 3, current: 3, ready: 3, autoscale: defaults.autoscale },
    });
  });

  it('drains first: marks the busy bot’s pod expensive to delete before lowering replicas, so it survives', async () => {
    const pods = kube.pods().map((p) => p.name);
    for (const id of pods) expect((await serverCall('POST', '/bots/register', { id })).status).toBeLessThan(300);
    expect((await serverCall('POST', '/jobs/populate', { count: 1 })).status).toBe(201);
    const busyPod = pods[1]; // neither the newest nor the oldest: the ReplicaSet's own order would not pick it
    const claim = await serverCall('POST', '/jobs/claim', { botId: busyPod });
    expect(claim.status).toBe(200);
    const requestsBefore = kube.requests.length;

    const r = await call('PUT', '/scale', { replicas: 1 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ desired: 1, current: 1, ready: 1 });
    expect(kube.pods().map((p) => p.name)).toEqual([busyPod]);
    expect(kube.pods()[0].annotations[POD_DELETION_COST_ANNOTATION]).toBe(String(DELETION_COST.busy));

    const during = kube.requests.slice(requestsBefore).filter((x) => x.method === 'PATCH');
    const podPatches = during.filter((x) => x.path.includes('/pods/'));
    expect(podPatches).toHaveLength(3);
    for (const p of podPatches) expect(p.contentType).toBe('application/merge-patch+json');
    const costs = Object.fromEntries(
      podPatches.map((p) => [
        p.path.split('/').pop(),
        (p.body as { metadata: { annotations: Record<string, string> } }).metadata.annotations[
          POD_DELETION_COST_ANNOTATION
        ],
      ]),
    );
    expect(costs).toEqual(
      Object.fromEntries(pods.map((id) => [id, String(id === busyPod ? DELETION_COST.busy : DELETION_COST.idle)])),
    );
    // Annotations first, then the scale patch.
    expect(during.at(-1)!.path.endsWith('/scale')).toBe(true);
    expect(kube.configMap(CONFIGMAP)!.replicas).toBe('1');
  });

  it('follows `kubectl edit` of the ConfigMap on the next resync, and holds steady on an invalid edit', async () => {
    kube.setConfigMap(CONFIGMAP, { ...kube.configMap(CONFIGMAP)!, replicas: '2' });
    await loop.resync();
    expect(kube.replicas()).toBe(2);
    expect(loop.getDesired().replicas).toBe(2);

    const patchesBefore = scalePatches().length;
    kube.setConfigMap(CONFIGMAP, { ...kube.configMap(CONFIGMAP)!, replicas: 'lots' });
    await loop.resync();
    expect(kube.replicas()).toBe(2);
    expect(loop.getDesired().replicas).toBe(2);
    expect(scalePatches()).toHaveLength(patchesBefore);
    // A count above MAX_BOTS (10 here) is capped, not obeyed.
    kube.setConfigMap(CONFIGMAP, { ...kube.configMap(CONFIGMAP)!, replicas: '50' });
    await loop.resync();
    expect(kube.replicas()).toBe(10);
    expect(loop.getDesired().replicas).toBe(10);
    kube.setConfigMap(CONFIGMAP, { ...kube.configMap(CONFIGMAP)!, replicas: 'lots' });
    // An admin's change repairs the bad value.
    expect((await call('PUT', '/scale', { replicas: 2 })).status).toBe(200);
    expect((await call('POST', '/scale/add')).body).toMatchObject({ desired: 3, current: 3 });
    expect(kube.configMap(CONFIGMAP)!.replicas).toBe('3');
  });

  it('autoscales by queue depth, at once upward and after the cool-down downward', async () => {
    // Outstanding work: the job still claimed by the busy bot plus 6 new pending ones = 7 → ceil(7/2) = 4.
    const created = await serverCall('POST', '/jobs/populate', { count: 6 });
    expect(created.status).toBe(201);
    const r = await call('PUT', '/autoscale', { enabled: true });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      desired: 4,
      current: 4,
      autoscale: { enabled: true, min: 1, max: 6, jobsPerBot: 2 },
    });
    expect(kube.configMap(CONFIGMAP)).toMatchObject({ replicas: '4', 'autoscale.enabled': 'true' });

    // The queue empties (cancelled by an admin): 1 outstanding → 1 bot, but only after the cool-down.
    for (const job of (created.body as { items: { id: string }[] }).items)
      expect((await serverCall('POST', `/jobs/${job.id}/cancel`)).status).toBe(200);
    clock.advance(COOLDOWN_MS - 1000);
    await loop.resync();
    expect(kube.replicas()).toBe(4);
    clock.advance(1000);
    await loop.resync();
    expect(kube.replicas()).toBe(1);
    expect(loop.getDesired()).toMatchObject({ replicas: 1, autoscale: { enabled: true } });

    // A manual scale takes over: autoscale is switched off so it cannot undo the admin's choice.
    expect((await call('PUT', '/scale', { replicas: 2 })).body).toMatchObject({
      desired: 2,
      autoscale: { enabled: false },
    });
  });

  it('answers 503 when the ConfigMap cannot be written, and GET /scale keeps showing the last observation', async () => {
    kube.setUnavailable(true);
    try {
      const put = await call('PUT', '/scale', { replicas: 5 });
      expect(put.status).toBe(503);
      expect(put.body).toEqual({ error: { code: 'unavailable', message: expect.stringContaining('cannot be') } });
      const get = await call('GET', '/scale', undefined, null);
      expect(get).toMatchObject({ status: 200, body: { desired: 2, current: 2 } });
    } finally {
      kube.setUnavailable(false);
    }
  });

  it('postpones a scale-down while the job server cannot say who is busy, and completes it once it can', async () => {
    await server.stop();
    try {
      const r = await call('PUT', '/scale', { replicas: 0 });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ desired: 0, current: 2 });
      expect(kube.replicas()).toBe(2);
      expect((await call('GET', '/healthz', undefined, null)).body).toMatchObject({
        status: 'ok',
        lastReconcile: { error: expect.stringContaining('postponed') },
      });
    } finally {
      await server.restart();
    }
    await loop.resync();
    expect(kube.replicas()).toBe(0);
  });
});
