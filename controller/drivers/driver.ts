/**
 * What the reconcile loop needs from a way of running bots. Two implementations: process.ts (child
 * processes, outside Kubernetes) and kubernetes.ts (the scale subresource of a Deployment).
 */
import type { ObservedState } from '../reconcile';

type DriverName = 'process' | 'kubernetes';

export interface ScaleDriver {
  readonly name: DriverName;
  /** Reads the current and ready counts. */
  observe(): Promise<ObservedState>;
  /**
   * Moves from `from` to `to` bots. Lowering is drain-first: idle bots go before busy ones. Throws
   * DrainUnknownError (and changes nothing) when it cannot learn which bots are busy.
   */
  scale(from: number, to: number): Promise<void>;
  /** When the driver can see outside changes (the kubernetes driver's watch): calls onChange on each. */
  watch?(onChange: () => void): void;
  /** Releases what the driver holds; the process driver stops its children (SIGTERM, grace, SIGKILL). */
  shutdown(): Promise<void>;
}

/**
 * A scale-down was postponed because the server could not say which bots are busy. Stopping bots
 * blindly could cut a job short while an idle bot could have gone instead; the loop retries on its
 * next resync.
 */
export class DrainUnknownError extends Error {
  constructor(cause: string) {
    super(`scale-down postponed: cannot learn which bots are busy (${cause})`);
    this.name = 'DrainUnknownError';
  }
}
