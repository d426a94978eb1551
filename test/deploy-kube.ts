/**
 * For the deploy tests that use the local Kubernetes (KUBECONFIG as scripts/test-deploy.sh exports
 * it after the cluster's `up`): an admin client for the test's own reads and writes, and a namespace
 * holding what the controller needs from the chart — its ServiceAccount, Role and RoleBinding as
 * `helm template` renders them, a bots Deployment of the chart's name and labels (pause containers:
 * these tests are about the controller, not the bots) — plus a client authenticated as that
 * ServiceAccount, so RBAC decides every call the controller makes.
 */
import * as k8s from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { run, waitUntil } from './deploy-helpers';

/** The release name the tests render the chart with: objects are botfleet-bots, botfleet-controller. */
export const RELEASE = 'botfleet';
export const BOTS_DEPLOYMENT = 'botfleet-bots';
export const CONTROLLER_CONFIGMAP = 'botfleet-controller';
const BOT_LABELS = {
  'app.kubernetes.io/name': 'botfleet',
  'app.kubernetes.io/instance': RELEASE,
  'app.kubernetes.io/component': 'bot',
};
/** Label of every namespace a deploy test creates; scripts/test-deploy.sh deletes what is left. */
export const TEST_NAMESPACE_LABEL = 'botfleet.test/deploy';

export function adminKubeConfig(): k8s.KubeConfig {
  const file = process.env.KUBECONFIG;
  if (!file) throw new Error('KUBECONFIG is not set: run through npm run test:deploy (it starts the local cluster)');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(file);
  return kc;
}

export const isNotFound = (err: unknown) => err instanceof k8s.ApiException && err.code === 404;

export interface ControllerNamespace {
  namespace: string;
  /** Authenticated as the chart's controller ServiceAccount. */
  serviceAccount: k8s.KubeConfig;
  admin: { core: k8s.CoreV1Api; apps: k8s.AppsV1Api; rbac: k8s.RbacAuthorizationV1Api };
  /** Names of the Deployment's live pods, newest first. */
  pods(): Promise<k8s.V1Pod[]>;
  replicas(): Promise<number>;
  configMap(): Promise<Record<string, string> | null>;
  setConfigMap(data: Record<string, string>): Promise<void>;
  /** (Re)applies the chart's ServiceAccount, Role and RoleBinding. */
  applyRbac(): Promise<void>;
  /** Waits until the Deployment wants `n` pods and exactly `n` live pods are Ready. */
  waitForReadyPods(n: number): Promise<k8s.V1Pod[]>;
  remove(): Promise<void>;
}

const created = (p: k8s.V1Pod) => new Date(p.metadata?.creationTimestamp ?? 0).getTime();
const ready = (p: k8s.V1Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

export async function createControllerNamespace(prefix: string): Promise<ControllerNamespace> {
  const admin = adminKubeConfig();
  const core = admin.makeApiClient(k8s.CoreV1Api);
  const apps = admin.makeApiClient(k8s.AppsV1Api);
  const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
  const namespace = `${prefix}-${randomBytes(3).toString('hex')}`;
  await core.createNamespace({
    body: { metadata: { name: namespace, labels: { [TEST_NAMESPACE_LABEL]: 'true' } } },
  });
  const rbacYaml = (
    await run('helm', [
      'template',
      RELEASE,
      'charts/botfleet',
      '--namespace',
      namespace,
      '--show-only',
      'templates/controller-rbac.yaml',
    ])
  ).stdout;
  const applyRbac = async () => {
    await run('kubectl', ['apply', '--namespace', namespace, '-f', '-'], { input: rbacYaml });
  };
  await applyRbac();
  await apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name: BOTS_DEPLOYMENT, labels: BOT_LABELS },
      spec: {
        replicas: 0,
        selector: { matchLabels: BOT_LABELS },
        template: {
          metadata: { labels: BOT_LABELS },
          spec: {
            terminationGracePeriodSeconds: 0,
            automountServiceAccountToken: false,
            // The local cluster has no pod network: a pod of its own network namespace is restarted.
            hostNetwork: true,
            containers: [{ name: 'bot', image: 'local/pause:3.2', imagePullPolicy: 'Never' }],
          },
        },
      },
    },
  });
  const token = await run('kubectl', [
    'create',
    'token',
    CONTROLLER_CONFIGMAP, // the ServiceAccount has the controller's name
    '--namespace',
    namespace,
    '--duration',
    '2h',
  ]);
  const cluster = admin.getCurrentCluster()!;
  const serviceAccount = new k8s.KubeConfig();
  serviceAccount.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'controller', token: token.stdout.trim() }],
    contexts: [{ name: 'controller', cluster: cluster.name, user: 'controller', namespace }],
    currentContext: 'controller',
  });

  const ns: ControllerNamespace = {
    namespace,
    serviceAccount,
    admin: { core, apps, rbac },
    applyRbac,
    async pods() {
      const list = await core.listNamespacedPod({
        namespace,
        labelSelector: Object.entries(BOT_LABELS)
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
      });
      return list.items.filter((p) => !p.metadata?.deletionTimestamp).sort((a, b) => created(b) - created(a));
    },
    async replicas() {
      const scale = await apps.readNamespacedDeploymentScale({ name: BOTS_DEPLOYMENT, namespace });
      return scale.spec?.replicas ?? 0;
    },
    async configMap() {
      try {
        return (await core.readNamespacedConfigMap({ name: CONTROLLER_CONFIGMAP, namespace })).data ?? {};
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    },
    async setConfigMap(data) {
      await core.replaceNamespacedConfigMap({
        name: CONTROLLER_CONFIGMAP,
        namespace,
        body: { metadata: { name: CONTROLLER_CONFIGMAP }, data },
      });
    },
    async waitForReadyPods(n) {
      return waitUntil(`${n} ready bot pods in ${namespace}`, async () => {
        if ((await ns.replicas()) !== n) return undefined;
        const pods = await ns.pods();
        return pods.length === n && pods.every(ready) ? pods : undefined;
      });
    },
    async remove() {
      await core.deleteNamespace({ name: namespace }).catch(() => undefined);
    },
  };
  return ns;
}
