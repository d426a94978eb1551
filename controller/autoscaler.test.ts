import fc from 'fast-check';
import { ManualClock } from '../core/clock';
import { Autoscaler, autoscaleTarget } from './autoscaler';
import type { AutoscaleSettings } from './desired-state';

const settings = (min: number, max: number, jobsPerBot: number): AutoscaleSettings => ({
  enabled: true,
  min,
  max,
  jobsPerBot,
});

describe('autoscaleTarget = clamp(ceil(outstanding / jobsPerBot), min, max) bounded by MAX_BOTS', () => {
  it('rounds up: one job more than a bot’s share needs one bot more', () => {
    expect(autoscaleTarget(10, settings(1, 20, 5), 50)).toBe(2);
    expect(autoscaleTarget(11, settings(1, 20, 5), 50)).toBe(3);
  });

  it('keeps min bots for an empty queue and at most max for a deep one', () => {
    expect(autoscaleTarget(0, settings(2, 20, 5), 50)).toBe(2);
    expect(autoscaleTarget(1000, settings(2, 20, 5), 50)).toBe(20);
  });

  it('never exceeds MAX_BOTS, even when max or min is above it', () => {
    expect(autoscaleTarget(1000, settings(1, 80, 1), 50)).toBe(50);
    expect(autoscaleTarget(0, settings(70, 80, 1), 50)).toBe(50);
  });

  it('allows scale to zero when min is 0', () => {
    expect(autoscaleTarget(0, settings(0, 5, 1), 50)).toBe(0);
  });

  it('stays within [min(min, cap), cap] for any input (property)', () => {
    fc.assert(
      fc.property(
        fc.nat(100000),
        fc.nat(100),
        fc.nat(100),
        fc.integer({ min: 1, max: 1000 }),
        fc.nat(100),
        (q, a, b, per, maxBots) => {
          const [min, max] = a <= b ? [a, b] : [b, a];
          const t = autoscaleTarget(q, settings(min, max, per), maxBots);
          const cap = Math.min(max, maxBots);
          return (
            Number.isInteger(t) &&
            t <= cap &&
            t >= Math.min(min, cap) &&
            (t === Math.min(min, cap) || t === cap || t === Math.ceil(q / per))
          );
        },
      ),
    );
  });
});

describe('Autoscaler cool-down', () => {
  const s = settings(1, 10, 5);

  it('scales up at once, even inside the cool-down', () => {
    const clock = new ManualClock();
    const a = new Autoscaler(clock, 60000);
    expect(a.decide(1, 40, s, 50)).toEqual({ replicas: 8, reason: 'scale-up' });
    clock.advance(1000);
    expect(a.decide(8, 50, s, 50)).toEqual({ replicas: 10, reason: 'scale-up' });
  });

  it('holds a scale-down until the cool-down since the last change has passed', () => {
    const clock = new ManualClock();
    const a = new Autoscaler(clock, 60000);
    expect(a.decide(1, 40, s, 50).replicas).toBe(8); // a change at t=0
    clock.advance(59999);
    expect(a.decide(8, 0, s, 50)).toEqual({ replicas: 8, reason: 'cooldown', cooldownLeftMs: 1 });
    clock.advance(1);
    expect(a.decide(8, 0, s, 50)).toEqual({ replicas: 1, reason: 'scale-down' });
    // The scale-down is a change too: a rebound right after it goes up at once...
    clock.advance(10);
    expect(a.decide(1, 12, s, 50)).toEqual({ replicas: 3, reason: 'scale-up' });
    // ...and the next scale-down waits a full cool-down again.
    clock.advance(30000);
    expect(a.decide(3, 0, s, 50).reason).toBe('cooldown');
  });

  it('starts cooling down at construction, so a restarted controller does not shrink the fleet at once', () => {
    const clock = new ManualClock();
    const a = new Autoscaler(clock, 5000);
    expect(a.decide(6, 0, s, 50).reason).toBe('cooldown');
    clock.advance(5000);
    expect(a.decide(6, 0, s, 50)).toEqual({ replicas: 1, reason: 'scale-down' });
  });

  it('counts an admin’s change as a change', () => {
    const clock = new ManualClock();
    const a = new Autoscaler(clock, 5000);
    clock.advance(10000);
    a.noteChange();
    clock.advance(4000);
    expect(a.decide(6, 0, s, 50).reason).toBe('cooldown');
  });

  it('reports steady when the queue asks for the current count', () => {
    const a = new Autoscaler(new ManualClock(), 0);
    expect(a.decide(2, 10, s, 50)).toEqual({ replicas: 2, reason: 'steady' });
  });
});
