import { newJobs } from './new-jobs';

const OPTS = { defaultMaxAttempts: 1, defaultTimeoutMs: 0, botDownAfterMs: 120_000 };
const ids = (n: number, nowMs: number) =>
  newJobs(
    Array.from({ length: n }, () => ({ type: 'simulated', payload: {}, priority: 0 })),
    nowMs,
    OPTS,
  ).map((j) => j.job.id);

describe('job ids', () => {
  test('UUID version-7 layout, the time in front, increasing and unique within one millisecond and past the counter', () => {
    const now = Date.UTC(2030, 0, 1);
    const made = ids(10_000, now); // > 4,096: borrows following milliseconds
    for (const id of made) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(made[0].replace(/-/g, '').slice(0, 12)).toBe(now.toString(16).padStart(12, '0'));
    expect(new Set(made).size).toBe(made.length);
    const byTimeAndCounter = made.map((id) => id.slice(0, 18));
    expect([...byTimeAndCounter].sort()).toEqual(byTimeAndCounter);
    expect(new Set(byTimeAndCounter).size).toBe(made.length);
    // A later millisecond sorts after everything above; an earlier clock does not go backwards.
    const [later] = ids(1, now + 60_000);
    expect(later > made[made.length - 1]).toBe(true);
    expect(ids(1, now)[0] > later).toBe(true);
  });
});
