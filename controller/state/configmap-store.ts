/**
 * Desired state in a ConfigMap (kubernetes driver), one plain key per field so that
 * `kubectl edit configmap <name>` can change it:
 *   replicas: "3"   autoscale.enabled: "false"   autoscale.min: "1"   autoscale.max: "10"
 *   autoscale.jobsPerBot: "5"
 * Missing keys take the configured defaults (a chart may create the ConfigMap with replicas only).
 * The Kubernetes calls sit behind ConfigMapAccess, implemented in drivers/kubernetes.ts, the only
 * file that imports the client.
 */
import { zodDetails } from '../../core/errors';
import {
  desiredStateSchema,
  InvalidStoredStateError,
  type DesiredState,
  type DesiredStateStore,
} from '../desired-state';

export interface ConfigMapAccess {
  readonly namespace: string;
  /** The ConfigMap's data, or null when it does not exist. */
  read(name: string): Promise<Record<string, string> | null>;
  /** Creates it; false when it already exists (someone else was first). */
  create(name: string, data: Record<string, string>): Promise<boolean>;
  /** Merge-patches its data keys. */
  patch(name: string, data: Record<string, string>): Promise<void>;
}

const CONFIGMAP_KEYS = {
  replicas: 'replicas',
  enabled: 'autoscale.enabled',
  min: 'autoscale.min',
  max: 'autoscale.max',
  jobsPerBot: 'autoscale.jobsPerBot',
} as const;

export function toConfigMapData(s: DesiredState): Record<string, string> {
  return {
    [CONFIGMAP_KEYS.replicas]: String(s.replicas),
    [CONFIGMAP_KEYS.enabled]: String(s.autoscale.enabled),
    [CONFIGMAP_KEYS.min]: String(s.autoscale.min),
    [CONFIGMAP_KEYS.max]: String(s.autoscale.max),
    [CONFIGMAP_KEYS.jobsPerBot]: String(s.autoscale.jobsPerBot),
  };
}

/** Parses ConfigMap data (strings) into a desired state; throws InvalidStoredStateError naming each bad key. */
export function fromConfigMapData(
  data: Record<string, string>,
  defaults: DesiredState,
  limit: number,
  location: string,
): DesiredState {
  const problems: string[] = [];
  const int = (key: string, def: number): number => {
    const v = data[key];
    if (v === undefined || v.trim() === '') return def;
    const n = Number(v.trim());
    if (!Number.isInteger(n)) problems.push(`${key}: must be an integer, got "${v}"`);
    return n;
  };
  const bool = (key: string, def: boolean): boolean => {
    const v = data[key]?.trim().toLowerCase();
    if (v === undefined || v === '') return def;
    if (v === 'true') return true;
    if (v === 'false') return false;
    problems.push(`${key}: must be "true" or "false", got "${data[key]}"`);
    return def;
  };
  const candidate = {
    replicas: int(CONFIGMAP_KEYS.replicas, defaults.replicas),
    autoscale: {
      enabled: bool(CONFIGMAP_KEYS.enabled, defaults.autoscale.enabled),
      min: int(CONFIGMAP_KEYS.min, defaults.autoscale.min),
      max: int(CONFIGMAP_KEYS.max, defaults.autoscale.max),
      jobsPerBot: int(CONFIGMAP_KEYS.jobsPerBot, defaults.autoscale.jobsPerBot),
    },
  };
  if (problems.length > 0) throw new InvalidStoredStateError(location, problems);
  const r = desiredStateSchema(limit).safeParse(candidate);
  if (!r.success) {
    // The schema's paths (autoscale.min, ...) are the ConfigMap keys a person would edit.
    throw new InvalidStoredStateError(
      location,
      zodDetails(r.error.issues).map((d) => `${d.path}: ${d.message}`),
    );
  }
  return r.data;
}

export class ConfigMapStateStore implements DesiredStateStore {
  readonly location: string;

  constructor(
    private readonly access: ConfigMapAccess,
    private readonly name: string,
    /** Largest count accepted from the ConfigMap (HARD_MAX_BOTS; the loop caps at MAX_BOTS). */
    private readonly limit: number,
    private readonly defaults: DesiredState,
  ) {
    this.location = `configmap ${access.namespace}/${name}`;
  }

  async load(): Promise<DesiredState | null> {
    const data = await this.access.read(this.name);
    if (data === null) return null;
    return fromConfigMapData(data, this.defaults, this.limit, this.location);
  }

  async save(state: DesiredState): Promise<void> {
    const data = toConfigMapData(state);
    // Patch first: the ConfigMap normally exists (the chart or our first save created it).
    const existing = await this.access.read(this.name);
    if (existing === null && (await this.access.create(this.name, data))) return;
    await this.access.patch(this.name, data);
  }
}
