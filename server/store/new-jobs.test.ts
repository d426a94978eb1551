import { timeOrderedId } from './new-jobs';

describe('timeOrderedId (job ids)', () => {
  test('UUID version-7 layout, the time in front, increasing and unique within one millisecond and past the counter', () => {
    const now = Date.UTC(2030, 0, 1);
    const ids = Array.from({ length: 10_000 }, () => timeOrderedId(now)); // > 4,096: borrows following milliseconds
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ids[0].replace(/-/g, '').slice(0, 12)).toBe(now.toString(16).padStart(12, '0'));
    expect(new Set(ids).size).toBe(ids.length);
    const byTimeAndCounter = ids.map((id) => id.slice(0, 18));
    expect([...byTimeAndCounter].sort()).toEqual(byTimeAndCounter);
    expect(new Set(byTimeAndCounter).size).toBe(ids.length);
    // A later millisecond sorts after everything above; an earlier clock does not go backwards.
    const later = timeOrderedId(now + 60_000);
    expect(later > ids[ids.length - 1]).toBe(true);
    expect(timeOrderedId(now) > later).toBe(true);
  });
});
