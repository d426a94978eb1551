/**
 * Shared by the chart tests: the chart's paths and default values, rendering with the renderer in
 * deploy-helm-renderer.ts, finders for rendered objects, and the env a container would see.
 */
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Pod, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import type { IContainer, IPodSpec } from 'kubernetes-models/v1';
import { renderManifests, type Manifest, type RenderOptions } from './deploy-helm-renderer';

export const ROOT = path.resolve(__dirname, '..');
export const CHART = path.join(ROOT, 'charts', 'botfleet');
export const readYaml = (f: string) => yaml.load(fs.readFileSync(f, 'utf8')) as Record<string, unknown>;
export const VALUES = readYaml(path.join(CHART, 'values.yaml'));
export const CI_VALUES = fs.readdirSync(path.join(CHART, 'ci')).map((f) => path.join(CHART, 'ci', f));

export const MODELS: Record<string, new (d: never) => { validate(): void }> = {
  Deployment,
  StatefulSet,
  Service,
  ConfigMap,
  Secret,
  ServiceAccount,
  Role,
  RoleBinding,
  NetworkPolicy,
  Pod,
};

export function render(opts: RenderOptions = {}): Manifest[] {
  return renderManifests(CHART, opts);
}
export function find(docs: Manifest[], kind: string, name: string): Manifest {
  const d = docs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!d) throw new Error(`no ${kind} ${name} in [${docs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}]`);
  return d;
}
export const workloads = (docs: Manifest[]) => docs.filter((d) => d.kind === 'Deployment' || d.kind === 'StatefulSet');
/** Workloads and bare pods (the `helm test` pod): everything that runs a container. */
export const podOwners = (docs: Manifest[]) =>
  docs.filter((d) => ['Deployment', 'StatefulSet', 'Pod'].includes(d.kind));
export const podSpec = (w: Manifest) =>
  w.kind === 'Pod' ? (w.spec as IPodSpec) : (w.spec as { template: { spec: IPodSpec } }).template.spec;
export const container = (w: Manifest) => podSpec(w).containers[0];
export const envOf = (c: IContainer) => new Map((c.env ?? []).map((e) => [e.name, e]));

/** The env a container would see: literal values, plus plausible values for downward API / Secret refs. */
export function envForLoader(c: IContainer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.value !== undefined) out[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') out[e.name] = 'botfleet-bots-5d8f7c9b4-x2k8q';
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') out[e.name] = 'botfleet';
    else if (e.valueFrom?.secretKeyRef?.key === 'database-url') out[e.name] = 'postgres://bot@db:5432/botfleet';
    else if (e.valueFrom?.secretKeyRef) out[e.name] = 'a-generated-admin-token-of-40-characters';
    else throw new Error(`env ${e.name}: unexpected source ${JSON.stringify(e.valueFrom)}`);
  }
  return out;
}
