/**
 * "fib": the n-th Fibonacci number (F(0) = 0, F(1) = 1) as a decimal string, exact, by fast
 * doubling with bigint: F(2k) = F(k)·(2F(k+1) − F(k)), F(2k+1) = F(k)² + F(k+1)².
 */
import { z } from 'zod';
import { yieldToEventLoop } from '../sleep';
import { defineHandler } from './handler';

/** F(n) for n >= 0, in O(log n) big multiplications. */
export async function fibonacci(
  n: number,
  signal: AbortSignal,
  onStep: (done: number, of: number) => void = () => undefined,
): Promise<bigint> {
  let a = 0n; // F(k)
  let b = 1n; // F(k+1)
  // Walk the bits of n from the top: k doubles each step, plus one when the bit is set.
  const top = Math.floor(Math.log2(Math.max(n, 1)));
  for (let bit = top; bit >= 0; bit--) {
    const c = a * (2n * b - a); // F(2k)
    const d = a * a + b * b; // F(2k+1)
    if ((n >> bit) & 1) {
      a = d;
      b = c + d;
    } else {
      a = c;
      b = d;
    }
    onStep(top - bit + 1, top + 1);
    await yieldToEventLoop(signal);
  }
  return a;
}

export const fibHandler = defineHandler({
  type: 'fib',
  description: 'the n-th Fibonacci number for payload.n (0..100000), exact; result {n, value, digits}',
  payload: z.strictObject({ n: z.int().min(0).max(100_000) }),
  async work({ n }, ctx) {
    ctx.log.info(`computing F(${n}) by fast doubling`);
    const f = await fibonacci(n, ctx.signal, (done, of) => ctx.progress(done / of, `bit ${done} of ${of}`));
    const value = f.toString();
    ctx.log.info(`F(${n}) has ${value.length} digits`);
    return { n, value, digits: value.length };
  },
});
