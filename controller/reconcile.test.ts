import { capToMaxBots, type DesiredState } from './desired-state';
import { reconcile } from './reconcile';

const desired = (replicas: number): DesiredState => ({
  replicas,
  autoscale: { enabled: false, min: 1, max: 10, jobsPerBot: 5 },
});

describe('reconcile(desired, observed)', () => {
  it('does nothing when the current count is the desired one, whatever is ready', () => {
    expect(reconcile(desired(3), { current: 3, ready: 0 }, 50)).toEqual({ kind: 'none', replicas: 3 });
  });

  it('scales up from the current count, not the ready one', () => {
    expect(reconcile(desired(3), { current: 1, ready: 0 }, 50)).toEqual({ kind: 'scale-up', from: 1, to: 3 });
    expect(reconcile(desired(3), { current: 0, ready: 0 }, 50)).toEqual({ kind: 'scale-up', from: 0, to: 3 });
  });

  it('scales down (drain-first is the driver’s job) to zero as well', () => {
    expect(reconcile(desired(1), { current: 3, ready: 3 }, 50)).toEqual({ kind: 'scale-down', from: 3, to: 1 });
    expect(reconcile(desired(0), { current: 2, ready: 2 }, 50)).toEqual({ kind: 'scale-down', from: 2, to: 0 });
  });

  it('never targets more than maxBots, even when a stored state asks for more', () => {
    expect(reconcile(desired(80), { current: 10, ready: 10 }, 50)).toEqual({ kind: 'scale-up', from: 10, to: 50 });
    expect(reconcile(desired(80), { current: 60, ready: 60 }, 50)).toEqual({ kind: 'scale-down', from: 60, to: 50 });
    expect(reconcile(desired(80), { current: 50, ready: 50 }, 50)).toEqual({ kind: 'none', replicas: 50 });
  });

  it('treats a negative desired count as zero', () => {
    expect(reconcile(desired(-2), { current: 1, ready: 1 }, 50)).toEqual({ kind: 'scale-down', from: 1, to: 0 });
  });
});

describe('capToMaxBots (a stored state from before MAX_BOTS was lowered)', () => {
  it('caps replicas and autoscale bounds, keeping min at most max', () => {
    const s: DesiredState = { replicas: 80, autoscale: { enabled: true, min: 60, max: 90, jobsPerBot: 5 } };
    expect(capToMaxBots(s, 50)).toEqual({
      replicas: 50,
      autoscale: { enabled: true, min: 50, max: 50, jobsPerBot: 5 },
    });
  });

  it('returns the same object when nothing exceeds the bound', () => {
    const s = desired(3);
    expect(capToMaxBots(s, 50)).toBe(s);
  });
});
