/**
 * Capped exponential backoff with full jitter: the n-th delay is uniform in [0, min(max, min·2^n)).
 * Full jitter spreads a fleet of bots that lost the server at the same moment, so they do not all
 * come back in the same millisecond (AWS Architecture Blog, "Exponential Backoff And Jitter").
 */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {
    if (!(minMs > 0) || maxMs < minMs) throw new RangeError(`backoff needs 0 < min <= max, got ${minMs}, ${maxMs}`);
  }

  /** The ceiling of the next delay, without jitter; grows until it reaches maxMs. */
  ceilingMs(): number {
    // 2^failures overflows to Infinity long after it passed any sane max; Math.min keeps it finite.
    return Math.min(this.maxMs, this.minMs * 2 ** this.failures);
  }

  /** The delay before the next retry, in ms; each call counts one more failure. */
  next(): number {
    const delay = Math.floor(this.random() * this.ceilingMs());
    this.failures++;
    return delay;
  }

  reset(): void {
    this.failures = 0;
  }
}
