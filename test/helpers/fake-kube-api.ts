/**
 * A small local HTTP server that speaks exactly the Kubernetes API calls the controller's
 * kubernetes driver makes, for tests on machines without a cluster:
 *   GET    /apis/apps/v1/namespaces/:ns/deployments/:name          (read Deployment)
 *   GET    /apis/apps/v1/namespaces/:ns/deployments/:name/scale    (read scale)
 *   PATCH  /apis/apps/v1/namespaces/:ns/deployments/:name/scale    (merge patch only)
 *   GET    /api/v1/namespaces/:ns/pods?labelSelector=k=v,...
 *   PATCH  /api/v1/namespaces/:ns/pods/:name                       (merge patch only)
 *   GET    /api/v1/namespaces/:ns/configmaps/:name, POST .../configmaps, PATCH .../configmaps/:name
 * It also plays the ReplicaSet controller: a scale patch creates pods (ready at once) or deletes
 * the ones with the lowest controller.kubernetes.io/pod-deletion-cost first, as Kubernetes does for
 * running, ready pods. Every request is recorded so a test can check what was (not) called.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export const FAKE_TOKEN = 'fake-kube-token';
const COST = 'controller.kubernetes.io/pod-deletion-cost';

type Obj = Record<string, unknown>;

export interface FakePod {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  createdSeq: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: string;
  contentType: string | undefined;
  body: unknown;
}

export interface FakeKubeApi {
  url: string;
  namespace: string;
  deploymentName: string;
  /** A kubeconfig file pointing at this server (http://, so insecure-skip-tls-verify: true). */
  kubeconfigPath: string;
  requests: RecordedRequest[];
  replicas(): number;
  pods(): FakePod[];
  configMap(name: string): Record<string, string> | undefined;
  setConfigMap(name: string, data: Record<string, string>): void;
  /** While true, every call answers 503 (an API server outage). */
  setUnavailable(down: boolean): void;
  close(): Promise<void>;
}

export interface FakeKubeApiOptions {
  dir: string;
  namespace?: string;
  deployment?: string;
  labels?: Record<string, string>;
  replicas?: number;
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Obj =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Obj) } : {};
  for (const [k, v] of Object.entries(patch as Obj)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function status(code: number, reason: string, message: string): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

export async function startFakeKubeApi(opts: FakeKubeApiOptions): Promise<FakeKubeApi> {
  const namespace = opts.namespace ?? 'botfleet';
  const deploymentName = opts.deployment ?? 'botfleet-bots';
  const labels = opts.labels ?? { 'app.kubernetes.io/name': 'botfleet', 'app.kubernetes.io/component': 'bot' };
  let replicas = 0;
  let seq = 0;
  let unavailable = false;
  const pods: FakePod[] = [];
  const configMaps = new Map<
    string,
    { data: Record<string, string>; labels: Record<string, string>; resourceVersion: number }
  >();
  const requests: RecordedRequest[] = [];

  const addPod = () => {
    seq++;
    pods.push({
      name: `${deploymentName}-5f7c9-${randomBytes(3).toString('hex').slice(0, 5)}`,
      labels: { ...labels },
      annotations: {},
      createdSeq: seq,
    });
  };
  /** The ReplicaSet controller: lowest deletion cost first, then the newest pod. */
  const setReplicas = (n: number) => {
    replicas = n;
    while (pods.length < n) addPod();
    if (pods.length > n) {
      const cost = (p: FakePod) => Number(p.annotations[COST] ?? '0');
      const order = [...pods].sort((a, b) => cost(a) - cost(b) || b.createdSeq - a.createdSeq);
      for (const victim of order.slice(0, pods.length - n)) pods.splice(pods.indexOf(victim), 1);
    }
  };
  setReplicas(opts.replicas ?? 1);

  const podJson = (p: FakePod): Obj => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p.name, namespace, labels: p.labels, annotations: p.annotations, uid: `uid-${p.createdSeq}` },
    spec: { containers: [{ name: 'bot', image: 'botfleet:dev' }] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  });
  const deploymentJson = (): Obj => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: deploymentName, namespace, generation: 1 },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'bot', image: 'botfleet:dev' }] } },
    },
    status: {
      replicas: pods.length,
      readyReplicas: pods.length,
      availableReplicas: pods.length,
      observedGeneration: 1,
    },
  });
  const scaleJson = (): Obj => ({
    apiVersion: 'autoscaling/v1',
    kind: 'Scale',
    metadata: { name: deploymentName, namespace },
    spec: { replicas },
    status: {
      replicas: pods.length,
      selector: Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
    },
  });
  const configMapJson = (name: string): Obj => {
    const cm = configMaps.get(name)!;
    return {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace, labels: cm.labels, resourceVersion: String(cm.resourceVersion) },
      data: cm.data,
    };
  };

  const handle = (
    method: string,
    p: string,
    query: URLSearchParams,
    contentType: string | undefined,
    body: unknown,
  ): [number, Obj] => {
    if (unavailable) return [503, status(503, 'ServiceUnavailable', 'the fake API server is down')];
    const isMerge = contentType?.split(';')[0].trim() === 'application/merge-patch+json';
    const deployBase = `/apis/apps/v1/namespaces/${namespace}/deployments/${deploymentName}`;
    const coreBase = `/api/v1/namespaces/${namespace}`;
    if (method === 'PATCH' && !isMerge)
      return [415, status(415, 'UnsupportedMediaType', `this fake accepts merge patches only, got ${contentType}`)];

    if (p === deployBase && method === 'GET') return [200, deploymentJson()];
    if (p === `${deployBase}/scale` && method === 'GET') return [200, scaleJson()];
    if (p === `${deployBase}/scale` && method === 'PATCH') {
      const next = (mergePatch({ spec: { replicas } }, body) as { spec?: { replicas?: unknown } }).spec?.replicas;
      if (typeof next !== 'number' || !Number.isInteger(next) || next < 0)
        return [422, status(422, 'Invalid', 'spec.replicas must be a non-negative integer')];
      setReplicas(next);
      return [200, scaleJson()];
    }
    if (p === `${coreBase}/pods` && method === 'GET') {
      const want = (query.get('labelSelector') ?? '')
        .split(',')
        .filter(Boolean)
        .map((kv) => kv.split('='));
      const items = pods.filter((pod) => want.every(([k, v]) => pod.labels[k] === v)).map(podJson);
      return [200, { apiVersion: 'v1', kind: 'PodList', metadata: {}, items }];
    }
    const podMatch = new RegExp(`^${coreBase}/pods/([^/]+)$`).exec(p);
    if (podMatch && method === 'PATCH') {
      const pod = pods.find((x) => x.name === podMatch[1]);
      if (!pod) return [404, status(404, 'NotFound', `pods "${podMatch[1]}" not found`)];
      const patched = mergePatch({ metadata: { annotations: pod.annotations, labels: pod.labels } }, body) as {
        metadata: { annotations?: Record<string, string> };
      };
      pod.annotations = patched.metadata.annotations ?? {};
      return [200, podJson(pod)];
    }
    if (p === `${coreBase}/configmaps` && method === 'POST') {
      const b = body as {
        metadata?: { name?: string; labels?: Record<string, string> };
        data?: Record<string, string>;
      };
      const name = b.metadata?.name;
      if (!name) return [422, status(422, 'Invalid', 'metadata.name is required')];
      if (configMaps.has(name)) return [409, status(409, 'AlreadyExists', `configmaps "${name}" already exists`)];
      configMaps.set(name, { data: { ...b.data }, labels: { ...b.metadata?.labels }, resourceVersion: 1 });
      return [201, configMapJson(name)];
    }
    const cmMatch = new RegExp(`^${coreBase}/configmaps/([^/]+)$`).exec(p);
    if (cmMatch) {
      const name = cmMatch[1];
      const cm = configMaps.get(name);
      if (!cm) return [404, status(404, 'NotFound', `configmaps "${name}" not found`)];
      if (method === 'GET') return [200, configMapJson(name)];
      if (method === 'PATCH') {
        cm.data = (mergePatch(cm.data, (body as { data?: unknown }).data ?? {}) as Record<string, string>) ?? {};
        cm.resourceVersion++;
        return [200, configMapJson(name)];
      }
    }
    return [404, status(404, 'NotFound', `the fake does not serve ${method} ${p}`)];
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://fake');
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = undefined;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = text;
      }
      requests.push({
        method: req.method ?? '',
        path: u.pathname,
        query: u.search,
        contentType: req.headers['content-type'],
        body,
      });
      let code: number;
      let out: Obj;
      if (req.headers.authorization !== `Bearer ${FAKE_TOKEN}`)
        [code, out] = [401, status(401, 'Unauthorized', 'Unauthorized')];
      else [code, out] = handle(req.method ?? '', u.pathname, u.searchParams, req.headers['content-type'], body);
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(out));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const kubeconfigPath = path.join(opts.dir, 'kubeconfig.json');
  fs.writeFileSync(
    kubeconfigPath,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'controller', user: { token: FAKE_TOKEN } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'controller', namespace } }],
      'current-context': 'fake',
    }),
  );

  return {
    url,
    namespace,
    deploymentName,
    kubeconfigPath,
    requests,
    replicas: () => replicas,
    pods: () => pods.map((p) => ({ ...p, annotations: { ...p.annotations } })),
    configMap: (name) => (configMaps.has(name) ? { ...configMaps.get(name)!.data } : undefined),
    setConfigMap: (name, data) => {
      const cm = configMaps.get(name);
      if (cm) {
        cm.data = { ...data };
        cm.resourceVersion++;
      } else configMaps.set(name, { data: { ...data }, labels: {}, resourceVersion: 1 });
    },
    setUnavailable: (down) => {
      unavailable = down;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
