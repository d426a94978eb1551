/**
 * "hash": iterated SHA-256. Round 1 hashes the UTF-8 bytes of input; every further round hashes
 * the 32 raw bytes of the previous digest (not its hex). Result: the final digest in hex.
 * Checkable with `printf abc | openssl dgst -sha256 -binary | openssl dgst -sha256` (2 rounds).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { yieldToEventLoop } from '../sleep';
import { defineHandler } from './handler';

/** Rounds between two yields: ~10 ms of work, so heartbeats and shutdown are never held up. */
const ROUNDS_PER_SLICE = 20_000;

export const hashHandler = defineHandler({
  type: 'hash',
  description: 'iterated SHA-256 of payload.input (payload.iterations rounds, 1..1e6); result {hex}',
  payload: z.strictObject({
    input: z.string().max(1_000_000),
    iterations: z.int().min(1).max(1_000_000).default(1),
  }),
  async work({ input, iterations }, ctx) {
    ctx.log.info(`hashing ${Buffer.byteLength(input, 'utf8')} bytes, ${iterations} round(s) of SHA-256`);
    let digest = createHash('sha256').update(input, 'utf8').digest();
    for (let round = 2; round <= iterations; round++) {
      digest = createHash('sha256').update(digest).digest();
      if (round % ROUNDS_PER_SLICE === 0) {
        ctx.progress(round / iterations, `round ${round} of ${iterations}`);
        await yieldToEventLoop(ctx.signal);
      }
    }
    ctx.progress(1, `round ${iterations} of ${iterations}`);
    ctx.log.info(`digest ${digest.toString('hex')}`);
    return { algorithm: 'sha256', iterations, hex: digest.toString('hex') };
  },
});
