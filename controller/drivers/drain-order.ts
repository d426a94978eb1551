/**
 * Drain-first scale-down, decided here without I/O: which bots to stop (processes) or how expensive
 * each pod is to delete (Kubernetes), from the server's view of who is busy.
 */
import { isBusy, type BotActivity } from '../server-client';

/**
 * Picks `count` bots to stop among `candidates` (in the driver's preferred order when all else is
 * equal, e.g. highest number first). Bots the server does not know or sees as down go first (they
 * do no work), then idle ones, and busy ones only when nothing else is left.
 */
export function chooseBotsToStop(
  candidates: readonly string[],
  activity: ReadonlyMap<string, BotActivity>,
  count: number,
): string[] {
  const rank = (id: string): number => {
    const a = activity.get(id);
    if (a === undefined || a.status === 'down') return 0;
    return isBusy(a) ? 2 : 1;
  };
  // Array.prototype.sort is stable, so the driver's own order breaks ties.
  return [...candidates].sort((x, y) => rank(x) - rank(y)).slice(0, Math.max(0, count));
}

/** The annotation the ReplicaSet controller reads to choose which pods to delete first (lower first). */
export const POD_DELETION_COST_ANNOTATION = 'controller.kubernetes.io/pod-deletion-cost';

/** Busy bots' pods are expensive to delete, idle ones cheap, unknown or down ones cheapest. */
export const DELETION_COST = { busy: 10000, idle: 0, unknown: -100 } as const;

export function podDeletionCost(activity: BotActivity | undefined): number {
  if (activity === undefined || activity.status === 'down') return DELETION_COST.unknown;
  return isBusy(activity) ? DELETION_COST.busy : DELETION_COST.idle;
}
