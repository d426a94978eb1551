/**
 * The heart of the operator: compare what is wanted with what is observed and say what to do.
 * Pure (no I/O, no clock), so every case is a one-line test. The loop (reconcile-loop.ts) feeds it
 * and hands the action to a driver.
 */
import type { DesiredState } from './desired-state';

export interface ObservedState {
  /** Bots the workload is set to run (Deployment spec.replicas; managed child processes). */
  current: number;
  /** Of those, bots that are up (ready pods; processes registered at the server). */
  ready: number;
}

export type ReconcileAction =
  | { kind: 'none'; replicas: number }
  | { kind: 'scale-up'; from: number; to: number }
  /** Scale-down is drain-first: the driver removes idle bots before busy ones. */
  | { kind: 'scale-down'; from: number; to: number };

/**
 * Decides the next action. The target is desired.replicas bounded to 0..maxBots, so a stored state
 * written before MAX_BOTS was lowered can never run more bots than the bound allows.
 */
export function reconcile(desired: DesiredState, observed: ObservedState, maxBots: number): ReconcileAction {
  const target = Math.max(0, Math.min(Math.trunc(desired.replicas), maxBots));
  if (observed.current === target) return { kind: 'none', replicas: target };
  if (observed.current < target) return { kind: 'scale-up', from: observed.current, to: target };
  return { kind: 'scale-down', from: observed.current, to: target };
}
