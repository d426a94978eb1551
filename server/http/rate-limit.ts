/**
 * Token buckets per client. A client over its budget gets 429 with Retry-After. Buckets that are full
 * again are forgotten, so memory stays bounded by the clients active in the last few seconds.
 */
import { RateLimitedError } from '../../core/errors';
import type { Clock } from '../../core/clock';

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private lastPrune = 0;

  /** perSecond 0 disables the limiter. */
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly clock: Clock,
  ) {}

  get enabled(): boolean {
    return this.perSecond > 0;
  }

  private refill(key: string, now: number) {
    const b = this.buckets.get(key);
    if (!b) return { tokens: this.burst, at: now };
    return { tokens: Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond), at: now };
  }

  /** Throws 429 when the client has no token left; does not take one. */
  check(key: string): void {
    if (!this.enabled) return;
    const b = this.refill(key, this.clock.now());
    if (b.tokens < 1) throw new RateLimitedError(Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond)));
  }

  /** Takes one token (after check). */
  take(key: string): void {
    if (!this.enabled) return;
    const now = this.clock.now();
    const b = this.refill(key, now);
    b.tokens -= 1;
    this.buckets.set(key, b);
    if (now - this.lastPrune > 10_000) this.prune(now);
  }

  /** check() then take(). */
  hit(key: string): void {
    this.check(key);
    this.take(key);
  }

  private prune(now: number): void {
    this.lastPrune = now;
    for (const [k, b] of this.buckets)
      if (b.tokens + ((now - b.at) / 1000) * this.perSecond >= this.burst) this.buckets.delete(k);
  }

  get size(): number {
    return this.buckets.size;
  }
}
