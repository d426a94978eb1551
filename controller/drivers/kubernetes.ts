/**
 * The `kubernetes` driver: the bots are a Deployment whose replica count this driver sets through
 * the `scale` subresource with a merge patch (never replacing the Deployment, so `helm upgrade` and
 * the controller do not fight over other fields). Also the ConfigMap access behind the desired-state
 * store, and the watch that wakes the reconcile loop when either object changes. The ONLY file in
 * the project that imports @kubernetes/client-node.
 *
 * Drain-first scale-down, on every Kubernetes version: it lists the Deployment's pods, asks the
 * server which bots (BOT_ID = pod name) are busy, picks the pods to remove (unknown and idle bots
 * first, busy ones only when nothing else is left), deletes those pods itself and then lowers
 * replicas. The ReplicaSet may briefly replace a deleted pod before it sees the lower count; such
 * a replacement is the newest and least ready pod, which is the one the ReplicaSet removes first,
 * so the bots chosen to stay are the ones that stay. Each pod is also annotated with
 * controller.kubernetes.io/pod-deletion-cost (busy high, idle low), which the ReplicaSet
 * controller reads from Kubernetes 1.22 on (earlier versions ignore it).
 */
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../../core/logger';
import type { ObservedState } from '../reconcile';
import { isBusy, type BotActivity, type ServerClient } from '../server-client';
import type { ConfigMapAccess } from '../state/configmap-store';
import { chooseBotsToStop, POD_DELETION_COST_ANNOTATION, podDeletionCost } from './drain-order';
import { DrainUnknownError, type ScaleDriver } from './driver';

export interface KubernetesOptions {
  namespace: string;
  deployment: string;
  /** The ConfigMap holding the desired state; watched with the Deployment. */
  configMap: string;
  server: ServerClient;
  logger: Logger;
  /** A kubeconfig file; null: in-cluster service account when inside a pod, else the default lookup. */
  kubeconfigFile: string | null;
  inCluster: boolean;
}

const mergePatch = () => k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
/** How the API server's managedFields name this controller's writes. */
const FIELD_MANAGER = 'botfleet-controller';

/** HTTP status of a client error (ApiException.code), or undefined for network errors. */
function statusOf(err: unknown): number | undefined {
  return err instanceof k8s.ApiException ? err.code : undefined;
}

/** A short message without the response body the client appends (it can be long). */
function describe(err: unknown): string {
  if (err instanceof k8s.ApiException) return `Kubernetes API answered ${err.code}`;
  return (err as Error).message;
}

export function loadKubeConfig(opts: Pick<KubernetesOptions, 'kubeconfigFile' | 'inCluster'>): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (opts.kubeconfigFile) kc.loadFromFile(opts.kubeconfigFile);
  else if (opts.inCluster) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

/** Delay before a failed watch is opened again; doubles up to WATCH_RETRY_MAX_MS. */
const WATCH_RETRY_MS = 1000;
const WATCH_RETRY_MAX_MS = 30_000;
/** The API server ends each watch after this long; it is then opened again (and reports the object once). */
const WATCH_TIMEOUT_S = 300;

export class KubernetesScaleDriver implements ScaleDriver {
  readonly name = 'kubernetes' as const;
  private readonly apps: k8s.AppsV1Api;
  private readonly core: k8s.CoreV1Api;
  private readonly watcher: k8s.Watch;
  private readonly watches = new Set<AbortController>();
  private readonly retries = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    kc: k8s.KubeConfig,
    private readonly opts: Pick<KubernetesOptions, 'namespace' | 'deployment' | 'configMap' | 'server' | 'logger'>,
  ) {
    this.apps = kc.makeApiClient(k8s.AppsV1Api);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.watcher = new k8s.Watch(kc);
  }

  /**
   * Watches the bots Deployment and the ConfigMap: a `kubectl edit` of the ConfigMap, its deletion,
   * a `kubectl scale` by hand or pods becoming ready call onChange at once instead of waiting for
   * the next resync. Each watch names its one object (fieldSelector metadata.name), which RBAC
   * limits by resourceNames.
   */
  watch(onChange: () => void): void {
    const ns = encodeURIComponent(this.opts.namespace);
    this.follow(`/apis/apps/v1/namespaces/${ns}/deployments`, this.opts.deployment, onChange, WATCH_RETRY_MS);
    this.follow(`/api/v1/namespaces/${ns}/configmaps`, this.opts.configMap, onChange, WATCH_RETRY_MS);
  }

  private follow(path: string, name: string, onChange: () => void, retryMs: number): void {
    if (this.stopped) return;
    let controller: AbortController | null = null;
    let healthy = false;
    let over = false;
    const ended = (err: unknown) => {
      if (over) return;
      over = true;
      if (controller) this.watches.delete(controller);
      if (this.stopped) return;
      if (err) {
        const status = (err as { statusCode?: number }).statusCode;
        this.opts.logger.warn({ path, name, status, err: (err as Error).message, retryMs }, 'watch failed; retrying');
      }
      // A watch that delivered events was fine: open the next one at once; else back off.
      const delay = healthy && !err ? 0 : retryMs;
      const next = healthy && !err ? WATCH_RETRY_MS : Math.min(retryMs * 2, WATCH_RETRY_MAX_MS);
      const timer = setTimeout(() => {
        this.retries.delete(timer);
        this.follow(path, name, onChange, next);
      }, delay);
      timer.unref();
      this.retries.add(timer);
    };
    const event = (type: string) => {
      healthy = true;
      if (type !== 'BOOKMARK') onChange();
    };
    this.watcher
      .watch(path, { fieldSelector: `metadata.name=${name}`, timeoutSeconds: WATCH_TIMEOUT_S }, event, ended)
      .then((c) => {
        controller = c;
        if (this.stopped) c.abort();
        else if (!over) this.watches.add(c);
      }, ended);
  }

  async observe(): Promise<ObservedState> {
    const scale = await this.apps.readNamespacedDeploymentScale({
      name: this.opts.deployment,
      namespace: this.opts.namespace,
    });
    const dep = await this.apps.readNamespacedDeployment({
      name: this.opts.deployment,
      namespace: this.opts.namespace,
    });
    return { current: scale.spec?.replicas ?? 0, ready: dep.status?.readyReplicas ?? 0 };
  }

  async scale(from: number, to: number): Promise<void> {
    if (to < from) await this.drainFirst(to);
    await this.apps.patchNamespacedDeploymentScale(
      {
        name: this.opts.deployment,
        namespace: this.opts.namespace,
        body: { spec: { replicas: to } },
        fieldManager: FIELD_MANAGER,
      },
      mergePatch(),
    );
    this.opts.logger.info({ deployment: this.opts.deployment, from, to }, 'patched deployment scale');
  }

  /** Closes the watches; the pods belong to the Deployment, not to this process. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const t of this.retries) clearTimeout(t);
    for (const c of this.watches) c.abort();
    this.retries.clear();
    this.watches.clear();
  }

  /**
   * Prices every live pod of the Deployment and deletes the ones to remove so that `to` remain;
   * throws DrainUnknownError first (touching nothing) if the server cannot say who is busy.
   */
  private async drainFirst(to: number): Promise<void> {
    let activity: BotActivity[];
    try {
      activity = await this.opts.server.listBots();
    } catch (err) {
      throw new DrainUnknownError((err as Error).message);
    }
    const byId = new Map(activity.map((a) => [a.id, a]));
    const pods = await this.livePods();
    for (const pod of pods) {
      const cost = String(podDeletionCost(byId.get(pod.name)));
      if (pod.cost === cost) continue;
      await this.ignoringGone(() =>
        this.core.patchNamespacedPod(
          {
            name: pod.name,
            namespace: this.opts.namespace,
            body: { metadata: { annotations: { [POD_DELETION_COST_ANNOTATION]: cost } } },
            fieldManager: FIELD_MANAGER,
          },
          mergePatch(),
        ),
      );
      this.opts.logger.debug({ pod: pod.name, cost }, 'set pod deletion cost');
    }
    // Newest first among equals, as the ReplicaSet itself would choose.
    const victims = chooseBotsToStop(
      pods.map((p) => p.name),
      byId,
      pods.length - to,
    );
    for (const name of victims) {
      await this.ignoringGone(() => this.core.deleteNamespacedPod({ name, namespace: this.opts.namespace }));
      this.opts.logger.info({ pod: name, busy: isBusy(byId.get(name)) }, 'deleted bot pod (drain-first scale-down)');
    }
  }

  /** The Deployment's pods that are not being deleted, newest first. */
  private async livePods(): Promise<{ name: string; cost: string | undefined }[]> {
    const dep = await this.apps.readNamespacedDeployment({
      name: this.opts.deployment,
      namespace: this.opts.namespace,
    });
    const labels = dep.spec?.selector?.matchLabels ?? {};
    const labelSelector = Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    if (!labelSelector) throw new DrainUnknownError(`deployment ${this.opts.deployment} has no matchLabels selector`);
    const list = await this.core.listNamespacedPod({ namespace: this.opts.namespace, labelSelector });
    return list.items
      .filter((p) => p.metadata?.name && !p.metadata.deletionTimestamp)
      .sort((x, y) => created(y) - created(x))
      .map((p) => ({ name: p.metadata!.name!, cost: p.metadata?.annotations?.[POD_DELETION_COST_ANNOTATION] }));
  }

  /** Runs a call on one pod; a pod that went away in the meantime needs nothing any more. */
  private async ignoringGone(call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }
}

const created = (p: k8s.V1Pod): number => new Date(p.metadata?.creationTimestamp ?? 0).getTime();

export class KubernetesConfigMapAccess implements ConfigMapAccess {
  private readonly core: k8s.CoreV1Api;

  constructor(
    kc: k8s.KubeConfig,
    readonly namespace: string,
  ) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
  }

  async read(name: string): Promise<Record<string, string> | null> {
    try {
      const cm = await this.core.readNamespacedConfigMap({ name, namespace: this.namespace });
      return cm.data ?? {};
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw new Error(`reading configmap ${this.namespace}/${name}: ${describe(err)}`);
    }
  }

  async create(name: string, data: Record<string, string>): Promise<boolean> {
    try {
      await this.core.createNamespacedConfigMap({
        namespace: this.namespace,
        // No label a chart sets too (managed-by and so on): `helm upgrade` applies the chart's
        // ConfigMap over this one and would stop at a field another manager holds with another value.
        body: {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name, labels: { 'app.kubernetes.io/created-by': FIELD_MANAGER } },
          data,
        },
        fieldManager: FIELD_MANAGER,
      });
      return true;
    } catch (err) {
      if (statusOf(err) === 409) return false;
      throw new Error(`creating configmap ${this.namespace}/${name}: ${describe(err)}`);
    }
  }

  async patch(name: string, data: Record<string, string>): Promise<void> {
    try {
      await this.core.patchNamespacedConfigMap(
        { name, namespace: this.namespace, body: { data }, fieldManager: FIELD_MANAGER },
        mergePatch(),
      );
    } catch (err) {
      throw new Error(`patching configmap ${this.namespace}/${name}: ${describe(err)}`);
    }
  }
}
