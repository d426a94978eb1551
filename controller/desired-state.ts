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

/** Schema of a stored state; maxBots bounds every count so a hand edit cannot exceed it. */
export function desiredStateSchema(maxBots: number) {
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
    .refine((s) => s.autoscale.min <= s.autoscale.max, { message: 'autoscale.min must be at most autoscale.max', path: ['autoscale', 'min'] });
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
