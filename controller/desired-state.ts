/**
 * The desired state the controller converges to, and the schema every store (JSON file, ConfigMap)
 * validates it with: what survives a controller restart and what `kubectl edit` may change.
 */
import { z } from 'zod';

export interface AutoscaleSettings {
  enabled: boolean;
  /** Fewest bots autoscale keeps, even with an empty queue. */
  min: number;
  /** Most bots autoscale asks for (MAX_BOTS bounds it as well). */
  max: number;
  /** Outstanding jobs one bot is expected to absorb; desired = ceil(outstanding / jobsPerBot). */
  jobsPerBot: number;
}

export interface DesiredState {
  replicas: number;
  autoscale: AutoscaleSettings;
}

/** The most bots any setting may name (MAX_BOTS itself is at most this). */
export const HARD_MAX_BOTS = 10000;

/**
 * Schema of a stored state. `limit` is the largest count accepted from storage: HARD_MAX_BOTS in
 * production, so that a state saved before MAX_BOTS was lowered still loads and is capped (see
 * capToMaxBots) instead of being rejected.
 */
export function desiredStateSchema(limit: number) {
  const maxBots = limit;
  return z
    .strictObject({
      replicas: z.int().min(0).max(maxBots),
      autoscale: z.strictObject({
        enabled: z.boolean(),
        min: z.int().min(0).max(maxBots),
        max: z.int().min(0).max(maxBots),
        jobsPerBot: z.int().min(1).max(1_000_000),
      }),
    })
    .refine((s) => s.autoscale.min <= s.autoscale.max, {
      message: 'autoscale.min must be at most autoscale.max',
      path: ['autoscale', 'min'],
    });
}

/** Where the desired state is kept. Implementations: JSON file (process driver), ConfigMap (Kubernetes). */
export interface DesiredStateStore {
  /** A human-readable place, for logs ("file ./data/controller-state.json", "configmap ns/name"). */
  readonly location: string;
  /** The stored state, or null when none is stored yet. Throws InvalidStoredStateError on bad content. */
  load(): Promise<DesiredState | null>;
  save(state: DesiredState): Promise<void>;
}

/** The stored state exists but does not parse (e.g. a typo made with `kubectl edit`). */
export class InvalidStoredStateError extends Error {
  constructor(
    readonly location: string,
    readonly problems: string[],
  ) {
    super(`the desired state in ${location} is invalid: ${problems.join('; ')}`);
    this.name = 'InvalidStoredStateError';
  }
}

export function sameDesiredState(a: DesiredState, b: DesiredState): boolean {
  return (
    a.replicas === b.replicas &&
    a.autoscale.enabled === b.autoscale.enabled &&
    a.autoscale.min === b.autoscale.min &&
    a.autoscale.max === b.autoscale.max &&
    a.autoscale.jobsPerBot === b.autoscale.jobsPerBot
  );
}

/** Caps every count at maxBots (min stays at most max). Returns the same object when nothing changes. */
export function capToMaxBots(s: DesiredState, maxBots: number): DesiredState {
  const max = Math.min(s.autoscale.max, maxBots);
  const capped: DesiredState = {
    replicas: Math.min(s.replicas, maxBots),
    autoscale: { ...s.autoscale, max, min: Math.min(s.autoscale.min, max) },
  };
  return sameDesiredState(capped, s) ? s : capped;
}
