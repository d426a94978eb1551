/**
 * The `kubernetes` driver: the bots are a Deployment whose replica count this driver sets through
 * the `scale` subresource with a merge patch (never replacing the Deployment, so `helm upgrade` and
 * the controller do not fight over other fields). Also the ConfigMap access behind the desired-state
 * store. The ONLY file in the project that imports @kubernetes/client-node.
 *
 * Drain-first scale-down: before lowering replicas it lists the Deployment's pods, asks the server
 * which bots (BOT_ID = pod name) are busy and annotates each pod with
 * controller.kubernetes.io/pod-deletion-cost (busy high, idle low), which the ReplicaSet controller
 * reads to delete the cheapest pods first.
 */
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../../core/logger';
import type { ObservedState } from '../reconcile';
import type { BotActivity, ServerClient } from '../server-client';
import type { ConfigMapAccess } from '../state/configmap-store';
import { POD_DELETION_COST_ANNOTATION, podDeletionCost } from './drain-order';
import { DrainUnknownError, type ScaleDriver } from './driver';

export interface KubernetesOptions {
  namespace: string;
  deployment: string;
  server: ServerClient;
  logger: Logger;
  /** A kubeconfig file; null: in-cluster service account when inside a pod, else the default lookup. */
  kubeconfigFile: string | null;
  inCluster: boolean;
}

const mergePatch = () => k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

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

export class KubernetesScaleDriver implements ScaleDriver {
  readonly name = 'kubernetes' as const;
  private readonly apps: k8s.AppsV1Api;
  private readonly core: k8s.CoreV1Api;

  constructor(
    kc: k8s.KubeConfig,
    private readonly opts: Pick<KubernetesOptions, 'namespace' | 'deployment' | 'server' | 'logger'>,
  ) {
    this.apps = kc.makeApiClient(k8s.AppsV1Api);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
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
    if (to < from) await this.markDeletionCosts();
    await this.apps.patchNamespacedDeploymentScale(
      { name: this.opts.deployment, namespace: this.opts.namespace, body: { spec: { replicas: to } } },
      mergePatch(),
    );
    this.opts.logger.info({ deployment: this.opts.deployment, from, to }, 'patched deployment scale');
  }

  /** Nothing to release: the pods belong to the Deployment, not to this process. */
  async shutdown(): Promise<void> {}

  /** Annotates every live pod of the Deployment with its deletion cost; throws DrainUnknownError first if the server cannot say who is busy. */
  private async markDeletionCosts(): Promise<void> {
    let activity: BotActivity[];
    try {
      activity = await this.opts.server.listBots();
    } catch (err) {
      throw new DrainUnknownError((err as Error).message);
    }
    const byId = new Map(activity.map((a) => [a.id, a]));
    const dep = await this.apps.readNamespacedDeployment({
      name: this.opts.deployment,
      namespace: this.opts.namespace,
    });
    const labels = dep.spec?.selector?.matchLabels ?? {};
    const labelSelector = Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    if (!labelSelector) throw new DrainUnknownError(`deployment ${this.opts.deployment} has no matchLabels selector`);
    const pods = await this.core.listNamespacedPod({ namespace: this.opts.namespace, labelSelector });
    for (const pod of pods.items) {
      const name = pod.metadata?.name;
      if (!name || pod.metadata?.deletionTimestamp) continue;
      const cost = String(podDeletionCost(byId.get(name)));
      if (pod.metadata?.annotations?.[POD_DELETION_COST_ANNOTATION] === cost) continue;
      try {
        await this.core.patchNamespacedPod(
          {
            name,
            namespace: this.opts.namespace,
            body: { metadata: { annotations: { [POD_DELETION_COST_ANNOTATION]: cost } } },
          },
          mergePatch(),
        );
      } catch (err) {
        // The pod went away between list and patch: nothing to protect any more.
        if (statusOf(err) === 404) continue;
        throw err;
      }
      this.opts.logger.debug({ pod: name, cost }, 'set pod deletion cost');
    }
  }
}

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
        body: {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'botfleet-controller' } },
          data,
        },
      });
      return true;
    } catch (err) {
      if (statusOf(err) === 409) return false;
      throw new Error(`creating configmap ${this.namespace}/${name}: ${describe(err)}`);
    }
  }

  async patch(name: string, data: Record<string, string>): Promise<void> {
    try {
      await this.core.patchNamespacedConfigMap({ name, namespace: this.namespace, body: { data } }, mergePatch());
    } catch (err) {
      throw new Error(`patching configmap ${this.namespace}/${name}: ${describe(err)}`);
    }
  }
}
