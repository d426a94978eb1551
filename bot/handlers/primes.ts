/**
 * "primes": how many primes are below n (pi(n-1)), by a segmented sieve of Eratosthenes over odd
 * numbers only. Segments keep memory small (n = 1e8 needs ~128 KiB, not 100 MB) and let the
 * handler yield between them so heartbeats keep going and shutdown can stop it.
 */
import { z } from 'zod';
import { yieldToEventLoop } from '../sleep';
import { defineHandler } from './handler';

/** Odd numbers per segment; 2^17 bytes fits in L2 cache. */
const SEGMENT = 1 << 17;

/** Counts primes p < n. Checks the signal between segments. */
export async function countPrimesBelow(
  n: number,
  signal: AbortSignal,
  onSegment: (done: number, of: number) => void = () => undefined,
): Promise<number> {
  if (n <= 2) return 0;
  const limit = n - 1; // largest candidate
  const root = Math.floor(Math.sqrt(limit));
  const basePrimes = oddPrimesUpTo(root);
  const segment = new Uint8Array(SEGMENT);
  let count = 1; // the prime 2
  const segments = Math.ceil((limit - 1) / (2 * SEGMENT));
  let done = 0;
  // Segment k covers the odd numbers low, low+2, ..., low + 2·(SEGMENT-1).
  for (let low = 3; low <= limit; low += 2 * SEGMENT) {
    const high = Math.min(low + 2 * (SEGMENT - 1), limit);
    const size = Math.floor((high - low) / 2) + 1;
    segment.fill(0, 0, size);
    for (const p of basePrimes) {
      const square = p * p;
      if (square > high) break;
      // First odd multiple of p that is >= max(p², low); smaller multiples have a smaller factor.
      let start = Math.max(square, Math.ceil(low / p) * p);
      if (start % 2 === 0) start += p;
      for (let m = start; m <= high; m += 2 * p) segment[(m - low) >> 1] = 1;
    }
    for (let i = 0; i < size; i++) if (segment[i] === 0) count++;
    onSegment(++done, segments);
    await yieldToEventLoop(signal);
  }
  return count;
}

/** Odd primes <= max by a plain sieve; max is at most 1e4 here. */
function oddPrimesUpTo(max: number): number[] {
  const composite = new Uint8Array(max + 1);
  const primes: number[] = [];
  for (let i = 3; i <= max; i += 2) {
    if (composite[i]) continue;
    primes.push(i);
    for (let j = i * i; j <= max; j += 2 * i) composite[j] = 1;
  }
  return primes;
}

export const primesHandler = defineHandler({
  type: 'primes',
  description: 'counts the primes below payload.n (an integer 2..1e8); result {n, count}',
  payload: z.strictObject({ n: z.int().min(2).max(100_000_000) }),
  async work({ n }, ctx) {
    ctx.log.info(`sieving the odd numbers below ${n} in segments of ${SEGMENT}`);
    const count = await countPrimesBelow(n, ctx.signal, (done, of) =>
      ctx.progress(done / of, `segment ${done} of ${of}`),
    );
    ctx.log.info(`${count} primes below ${n}`);
    return { n, count };
  },
});
