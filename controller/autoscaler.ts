/**
 * Autoscale by queue depth: desired = clamp(ceil(outstanding / jobsPerBot), min, max), bounded by
 * MAX_BOTS, with a cool-down so that it does not flap. Scale-up is immediate (work is waiting);
 * scale-down waits until AUTOSCALE_COOLDOWN_MS have passed since the last change of the desired
 * count, whoever made it. The clock is injected so the cool-down is tested exactly.
 */
import type { Clock } from '../core/clock';
import type { AutoscaleSettings } from './desired-state';

/**
 * The replica count the queue asks for. `outstanding` is work not yet finished: pending plus
 * claimed plus running jobs. Counting only pending jobs would make the autoscaler shrink the fleet
 * the moment bots claim the backlog, stopping bots in the middle of it.
 */
export function autoscaleTarget(outstanding: number, settings: AutoscaleSettings, maxBots: number): number {
  const wanted = Math.ceil(Math.max(0, outstanding) / Math.max(1, settings.jobsPerBot));
  const hi = Math.min(settings.max, maxBots);
  const lo = Math.min(settings.min, hi);
  return Math.max(lo, Math.min(wanted, hi));
}

export interface AutoscaleDecision {
  replicas: number;
  /** 'scale-up' | 'scale-down' | 'steady', or 'cooldown' when a scale-down is held back. */
  reason: 'scale-up' | 'scale-down' | 'steady' | 'cooldown';
  /** Milliseconds left in the cool-down when reason is 'cooldown'. */
  cooldownLeftMs?: number;
}

export class Autoscaler {
  private lastChangeAt: number;

  /** The cool-down starts at construction: a restarted controller does not shrink the fleet at once. */
  constructor(
    private readonly clock: Clock,
    private readonly cooldownMs: number,
  ) {
    this.lastChangeAt = clock.now();
  }

  /** Records a change of the desired count made elsewhere (an admin's PUT /scale). */
  noteChange(): void {
    this.lastChangeAt = this.clock.now();
  }

  /** Decides the desired count for the current one and the queue depth; records the change it makes. */
  decide(currentDesired: number, outstanding: number, settings: AutoscaleSettings, maxBots: number): AutoscaleDecision {
    const target = autoscaleTarget(outstanding, settings, maxBots);
    if (target === currentDesired) return { replicas: currentDesired, reason: 'steady' };
    if (target > currentDesired) {
      this.noteChange();
      return { replicas: target, reason: 'scale-up' };
    }
    const left = this.lastChangeAt + this.cooldownMs - this.clock.now();
    if (left > 0) return { replicas: currentDesired, reason: 'cooldown', cooldownLeftMs: left };
    this.noteChange();
    return { replicas: target, reason: 'scale-down' };
  }
}
