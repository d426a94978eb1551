/**
 * Sign-in sessions and CSRF tokens, kept in memory. A session is an opaque random id (in an
 * httpOnly, SameSite=Strict cookie) that maps to a role (viewer or admin: the token signed in
 * with), an expiry and a per-session CSRF token. Restarting
 * the dashboard signs everyone out, which is acceptable for an admin console and keeps secrets out
 * of any file.
 */
import crypto from 'node:crypto';

export const SESSION_COOKIE = 'botfleet_session';

export interface Flash {
  kind: 'ok' | 'error';
  text: string;
}

/** What a session may do: a viewer reads, an admin also uses the controls. */
export type SessionRole = 'admin' | 'viewer';

export interface Session {
  id: string;
  role: SessionRole;
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
  /** One message shown on the next page after a control redirects (post/redirect/get). */
  flash: Flash | null;
}

const digest = (s: string) => crypto.createHash('sha256').update(s, 'utf8').digest();

const randomId = () => crypto.randomBytes(32).toString('base64url');

export interface SessionStoreOptions {
  ttlMs: number;
  /** Milliseconds since the epoch; injected so expiry is testable without waiting. */
  now?: () => number;
  /** Upper bound on live sessions; the oldest is dropped beyond it so memory stays bounded. */
  maxSessions?: number;
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly now: () => number;
  private readonly maxSessions: number;

  constructor(private readonly opts: SessionStoreOptions) {
    this.now = opts.now ?? Date.now;
    this.maxSessions = opts.maxSessions ?? 10_000;
  }

  /** Starts a new session with fresh id and CSRF token (never reuses one: no session fixation). */
  create(role: SessionRole): Session {
    const t = this.now();
    const s: Session = {
      id: randomId(),
      role,
      csrfToken: randomId(),
      createdAt: t,
      expiresAt: t + this.opts.ttlMs,
      flash: null,
    };
    this.sessions.set(s.id, s);
    // Map keeps insertion order, so the first key is the oldest session.
    while (this.sessions.size > this.maxSessions) {
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.delete(oldest);
    }
    return s;
  }

  /** The live session with this id, or null when unknown or expired (an expired one is removed). */
  get(id: string | undefined): Session | null {
    if (!id) return null;
    const s = this.sessions.get(id);
    if (!s) return null;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return null;
    }
    return s;
  }

  destroy(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  /** Drops every expired session; main.ts runs it on a timer. Returns how many were dropped. */
  sweep(): number {
    const t = this.now();
    let n = 0;
    for (const [id, s] of this.sessions) {
      if (s.expiresAt <= t) {
        this.sessions.delete(id);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.sessions.size;
  }
}

/** True when the CSRF token sent with a state change is the session's own (constant time). */
export function csrfMatches(session: Session, sent: unknown): boolean {
  return typeof sent === 'string' && sent.length > 0 && crypto.timingSafeEqual(digest(sent), digest(session.csrfToken));
}
