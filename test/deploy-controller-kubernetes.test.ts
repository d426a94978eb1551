/**
 * The controller's kubernetes driver against the real kube-apiserver of the local cluster
 * (Kubernetes 1.20), authenticated as the chart's own ServiceAccount with the chart's Role, with the
 * real job server telling which bots are busy, and the controller's real HTTP API, reconcile loop,
 * ConfigMap store and watch in this process. The periodic resync is an hour here: whatever happens
 * within a test comes from a request or from the watch.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { ManualClock } from '../core/clock';
import { silentLogger } from '../core/logger';
import { Autoscaler } from '../controller/autoscaler';
import { HARD_MAX_BOTS, type DesiredState } from '../controller/desired-state';
import { DELETION_COST, POD_DELETION_COST_ANNOTATION } from '../controller/drivers/drain-order';
import { KubernetesConfigMapAccess, KubernetesScaleDriver } from '../controller/drivers/kubernetes';
import { createControllerApp } from '../controller/http/app';
import { ReconcileLoop } from '../controller/reconcile-loop';
import { HttpServerClient } from '../controller/server-client';
import { ConfigMapStateStore } from '../controller/state/configmap-store';
import { note, waitUntil } from './deploy-helpers';
import {
  BOTS_DEPLOYMENT,
  CONTROLLER_CONFIGMAP,
  createControllerNamespace,
  type ControllerNamespace,
} from './deploy-kube';
import { ADMIN_TOKEN, BOT_TOKEN, VIEWER_TOKEN, startServer, type ServerProcess } from './helpers/server-process';
import { testTime } from './helpers/time';

const COOLDOWN_MS = 60000;
const MAX_BOTS = 4;
const defaults: DesiredState = { replicas: 1, autoscale: { enabled: false, min: 1, max: 3, jobsPerBot: 2 } };

let server: ServerProcess;
let ns: ControllerNamespace;
let driver: KubernetesScaleDriver;
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

async function serverCall(method: string, path: string, body?: unknown, token = ADMIN_TOKEN) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: res.status === 204 ? null : ((await res.json()) as Record<string, unknown>) };
}

const names = (pods: k8s.V1Pod[]) => pods.map((p) => p.metadata!.name!);

beforeAll(async () => {
  [server, ns] = await Promise.all([startServer(), createControllerNamespace('controller-k8s')]);
  const logger = silentLogger();
  const serverClient = new HttpServerClient(server.url, 3000, { viewer: VIEWER_TOKEN, admin: ADMIN_TOKEN });
  driver = new KubernetesScaleDriver(ns.serviceAccount, {
    namespace: ns.namespace,
    deployment: BOTS_DEPLOYMENT,
    configMap: CONTROLLER_CONFIGMAP,
    server: serverClient,
    logger,
  });
  const store = new ConfigMapStateStore(
    new KubernetesConfigMapAccess(ns.serviceAccount, ns.namespace),
    CONTROLLER_CONFIGMAP,
    HARD_MAX_BOTS,
    defaults,
  );
  loop = new ReconcileLoop({
    store,
    driver,
    server: serverClient,
    autoscaler: new Autoscaler(clock, COOLDOWN_MS),
    defaults,
    maxBots: MAX_BOTS,
    intervalMs: 3_600_000,
    logger,
  });
  http_ = http.createServer(
    createControllerApp({
      loop,
      driver,
      tokens: { admin: [ADMIN_TOKEN], viewer: [VIEWER_TOKEN], bot: [BOT_TOKEN] },
      maxBots: MAX_BOTS,
      bodyLimitBytes: 4096,
      logger,
    }).callback(),
  );
  await new Promise<void>((r) => http_.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(http_.address() as AddressInfo).port}`;
}, testTime(120_000));

afterAll(async () => {
  await loop?.stop();
  await driver?.shutdown();
  if (http_) {
    http_.closeAllConnections();
    await new Promise((r) => http_.close(r));
  }
  await server?.stop();
  await ns?.remove();
}, testTime(60_000));

describe('kubernetes driver against the real API server, as the chart’s ServiceAccount', () => {
  it('creates its missing ConfigMap from the defaults (the Role allows create) and scales the Deployment', async () => {
    expect(await ns.configMap()).toBeNull();
    await loop.start();
    driver.watch(() => void loop.resync());
    expect(await ns.configMap()).toEqual({
      replicas: '1',
      'autoscale.enabled': 'false',
      'autoscale.min': '1',
      'autoscale.max': '3',
      'autoscale.jobsPerBot': '2',
    });
    expect(await ns.replicas()).toBe(1);
    await ns.waitForReadyPods(1);
    expect((await call('GET', '/scale', undefined, VIEWER_TOKEN)).body).toEqual({
      driver: 'kubernetes',
      desired: 1,
      current: 1,
      ready: 1,
      autoscale: defaults.autoscale,
    });
  });

  it('grants the ServiceAccount nothing beyond the Role: other ConfigMaps, Secrets and Deployments are 403', async () => {
    const core = ns.serviceAccount.makeApiClient(k8s.CoreV1Api);
    const apps = ns.serviceAccount.makeApiClient(k8s.AppsV1Api);
    const denied = async (call: () => Promise<unknown>) => {
      const err = await call().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(k8s.ApiException);
      expect((err as k8s.ApiException<unknown>).code).toBe(403);
    };
    await denied(() => core.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: ns.namespace }));
    await denied(() => core.listNamespacedSecret({ namespace: ns.namespace }));
    await denied(() => apps.listNamespacedDeployment({ namespace: ns.namespace }));
    await denied(() =>
      apps.patchNamespacedDeploymentScale(
        { name: 'other', namespace: ns.namespace, body: { spec: { replicas: 1 } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      ),
    );
  });

  it('drains first on Kubernetes 1.20: the busy bot’s pod stays although it is the newest, which the ReplicaSet removes first', async () => {
    const version = await ns.serviceAccount.makeApiClient(k8s.VersionApi).getCode();
    note(`controller stage: API server ${version.gitVersion}`);
    // Pods created a second apart, so the newest is certain.
    expect((await call('PUT', '/scale', { replicas: 2 })).status).toBe(200);
    await ns.waitForReadyPods(2);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await call('PUT', '/scale', { replicas: 3 })).status).toBe(200);
    const pods = names(await ns.waitForReadyPods(3));
    const busy = pods[0];
    for (const id of pods)
      expect((await serverCall('POST', '/bots/register', { id }, BOT_TOKEN)).status).toBeLessThan(300);
    expect((await serverCall('POST', '/jobs/populate', { count: 1 })).status).toBe(201);
    expect((await serverCall('POST', '/jobs/claim', { botId: busy }, BOT_TOKEN)).status).toBe(200);

    const r = await call('PUT', '/scale', { replicas: 1 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ desired: 1, current: 1 });
    const left = await ns.waitForReadyPods(1);
    expect(names(left)).toEqual([busy]);
    expect(left[0].metadata!.annotations![POD_DELETION_COST_ANNOTATION]).toBe(String(DELETION_COST.busy));
    // Nothing the ReplicaSet does later changes that.
    await new Promise((r) => setTimeout(r, 3000));
    expect(names(await ns.pods())).toEqual([busy]);
    expect(await ns.replicas()).toBe(1);
    expect((await ns.configMap())!.replicas).toBe('1');
    note(
      `controller stage: pods before scale-down ${pods.join(', ')} (busy: ${busy}); after: ${names(left).join(', ')}`,
    );
  });

  it('watch: an edit of the ConfigMap takes effect at once, an invalid one is ignored, one above MAX_BOTS is capped', async () => {
    await ns.setConfigMap({ ...(await ns.configMap())!, replicas: '2' });
    await waitUntil('the edit applied by the watch', async () => (await ns.replicas()) === 2, 20_000);
    expect(loop.getDesired().replicas).toBe(2);

    await ns.setConfigMap({ ...(await ns.configMap())!, replicas: 'lots' });
    await waitUntil('the watch to report the invalid edit', () => loop.getLastReport()?.desired.replicas === 2);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await ns.replicas()).toBe(2);
    expect(loop.getDesired().replicas).toBe(2);

    await ns.setConfigMap({ ...(await ns.configMap())!, replicas: '50' });
    await waitUntil('the capped count', async () => (await ns.replicas()) === MAX_BOTS, 20_000);
    expect(loop.getDesired().replicas).toBe(MAX_BOTS);

    // An admin's change repairs a bad value.
    await ns.setConfigMap({ ...(await ns.configMap())!, replicas: 'lots' });
    expect((await call('PUT', '/scale', { replicas: 1 })).status).toBe(200);
    expect((await call('POST', '/scale/add')).body).toMatchObject({ desired: 2, current: 2 });
    expect((await ns.configMap())!.replicas).toBe('2');
    await ns.waitForReadyPods(2);
  });

  it('watch: a scale of the Deployment by hand is undone at once', async () => {
    await ns.admin.apps.patchNamespacedDeploymentScale(
      { name: BOTS_DEPLOYMENT, namespace: ns.namespace, body: { spec: { replicas: 4 } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await waitUntil('the controller to restore 2', async () => (await ns.replicas()) === 2, 20_000);
    await ns.waitForReadyPods(2);
  });

  it('writes its ConfigMap back at once when someone deletes it, with the state it holds', async () => {
    await ns.admin.core.deleteNamespacedConfigMap({ name: CONTROLLER_CONFIGMAP, namespace: ns.namespace });
    const data = await waitUntil(
      'the ConfigMap written back',
      () => ns.configMap().then((d) => d ?? undefined),
      20_000,
    );
    expect(data).toMatchObject({ replicas: '2', 'autoscale.enabled': 'false' });
    expect(await ns.replicas()).toBe(2);
  });

  it('autoscales by queue depth, at once upward and after the cool-down downward', async () => {
    // Outstanding work: the job still claimed by the busy bot plus 4 pending = 5 -> ceil(5/2) = 3.
    const created = await serverCall('POST', '/jobs/populate', { count: 4 });
    expect(created.status).toBe(201);
    const r = await call('PUT', '/autoscale', { enabled: true });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ desired: 3, current: 3, autoscale: { enabled: true, min: 1, max: 3 } });
    expect(await ns.configMap()).toMatchObject({ replicas: '3', 'autoscale.enabled': 'true' });

    for (const job of (created.body as { items: { id: string }[] }).items)
      expect((await serverCall('POST', `/jobs/${job.id}/cancel`)).status).toBe(200);
    clock.advance(COOLDOWN_MS - 1000);
    await loop.resync();
    expect(await ns.replicas()).toBe(3);
    clock.advance(1000);
    await loop.resync();
    expect(await ns.replicas()).toBe(1);

    expect((await call('PUT', '/scale', { replicas: 2 })).body).toMatchObject({
      desired: 2,
      autoscale: { enabled: false },
    });
    await ns.waitForReadyPods(2);
  });

  it('answers 503 while RBAC refuses its ConfigMap, and GET /scale keeps showing the last observation', async () => {
    await ns.admin.rbac.deleteNamespacedRoleBinding({ name: CONTROLLER_CONFIGMAP, namespace: ns.namespace });
    try {
      const put = await waitUntil('a refused change', async () => {
        const p = await call('PUT', '/scale', { replicas: 3 });
        return p.status === 503 ? p : undefined;
      });
      expect(put.body).toEqual({ error: { code: 'unavailable', message: expect.stringContaining('cannot be') } });
      expect(await call('GET', '/scale', undefined, VIEWER_TOKEN)).toMatchObject({
        status: 200,
        body: { desired: 2, current: 2 },
      });
      expect(await ns.replicas()).toBe(2);
    } finally {
      await ns.applyRbac();
    }
    await waitUntil(
      'changes accepted again',
      async () => (await call('PUT', '/scale', { replicas: 2 })).status === 200,
    );
  });

  it('postpones a scale-down while the job server cannot say who is busy, and completes it once it can', async () => {
    await server.stop();
    try {
      const r = await call('PUT', '/scale', { replicas: 0 });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ desired: 0, current: 2 });
      expect(await ns.replicas()).toBe(2);
      expect((await call('GET', '/healthz', undefined, null)).body).toMatchObject({
        status: 'ok',
        lastReconcile: { error: expect.stringContaining('postponed') },
      });
    } finally {
      await server.restart();
    }
    await loop.resync();
    expect(await ns.replicas()).toBe(0);
    await waitUntil('no bot pod left', async () => (await ns.pods()).length === 0);
  });
});
