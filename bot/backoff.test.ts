import fc from 'fast-check';
import { Backoff } from './backoff';

describe('Backoff (capped exponential, full jitter)', () => {
  it('doubles its ceiling from min up to max, then stays there', () => {
    const b = new Backoff(500, 30000, () => 0.999999);
    const delays = Array.from({ length: 10 }, () => b.next());
    expect(delays).toEqual([499, 999, 1999, 3999, 7999, 15999, 29999, 29999, 29999, 29999]);
  });

  it('is uniform in [0, ceiling): the random draw scales the ceiling', () => {
    const b = new Backoff(1000, 8000, () => 0.25);
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([250, 500, 1000, 2000, 2000]);
  });

  it('starts over after reset()', () => {
    const b = new Backoff(100, 1000, () => 0.5);
    b.next();
    b.next();
    b.reset();
    expect(b.next()).toBe(50);
  });

  it('never exceeds max, never goes negative, however many failures', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10000 }),
        fc.integer({ min: 0, max: 100000 }),
        fc.integer({ min: 1, max: 2000 }),
        fc.double({ min: 0, max: 0.9999999, noNaN: true }),
        (min, extra, n, r) => {
          const b = new Backoff(min, min + extra, () => r);
          const delays = Array.from({ length: n }, () => b.next());
          return delays.every((d) => Number.isInteger(d) && d >= 0 && d < min + extra);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses a min above max', () => {
    expect(() => new Backoff(10, 5)).toThrow(RangeError);
    expect(() => new Backoff(0, 5)).toThrow(RangeError);
  });
});
