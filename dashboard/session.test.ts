import { SessionStore, csrfMatches } from './session';

describe('SessionStore', () => {
  it('creates unguessable distinct ids and CSRF tokens, each with its role', () => {
    const store = new SessionStore({ ttlMs: 1000 });
    const a = store.create('admin');
    const b = store.create('viewer');
    expect([a.role, b.role]).toEqual(['admin', 'viewer']);
    expect(a.id).not.toBe(b.id);
    expect(a.csrfToken).not.toBe(a.id);
    expect(a.id.length).toBeGreaterThanOrEqual(43);
    expect(store.get(a.id)).toBe(a);
    expect(store.get('nope')).toBeNull();
    expect(store.get(undefined)).toBeNull();
  });

  it('expires sessions after the TTL and sweeps them', () => {
    let t = 1_000_000;
    const store = new SessionStore({ ttlMs: 5000, now: () => t });
    const a = store.create('admin');
    t += 4999;
    expect(store.get(a.id)).toBe(a);
    const b = store.create('admin');
    t += 1;
    expect(store.get(a.id)).toBeNull();
    expect(store.size).toBe(1);
    t += 5000;
    expect(store.sweep()).toBe(1);
    expect(store.get(b.id)).toBeNull();
    expect(store.size).toBe(0);
  });

  it('destroys on sign-out and bounds memory by dropping the oldest', () => {
    const store = new SessionStore({ ttlMs: 60_000, maxSessions: 2 });
    const a = store.create('admin');
    const b = store.create('admin');
    const c = store.create('admin');
    expect(store.get(a.id)).toBeNull();
    expect(store.get(b.id)).toBe(b);
    store.destroy(b.id);
    expect(store.get(b.id)).toBeNull();
    expect(store.get(c.id)).toBe(c);
  });

  it('checks CSRF tokens against the session only', () => {
    const store = new SessionStore({ ttlMs: 60_000 });
    const a = store.create('admin');
    const b = store.create('admin');
    expect(csrfMatches(a, a.csrfToken)).toBe(true);
    expect(csrfMatches(a, b.csrfToken)).toBe(false);
    expect(csrfMatches(a, '')).toBe(false);
    expect(csrfMatches(a, undefined)).toBe(false);
    expect(csrfMatches(a, [a.csrfToken])).toBe(false);
  });
});
