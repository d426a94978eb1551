/**
 * Retries a call until the server answers: capped exponential backoff with full jitter while it is
 * unreachable (5xx, no connection, timeout) or refuses BOT_TOKEN (401/403, one error line per
 * attempt), the Retry-After while it says "slow down" (429).
 */
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import { ServerBusyError, ServerUnavailableError, TokenRefusedError } from './api-client';
import { Backoff } from './backoff';
import type { ServerLink } from './server-link';
import { pause, type SleepFn } from './sleep';

/** Thrown when keepTrying() turned false while the server was still away. */
export class GaveUp extends Error {}

export interface RetryOptions {
  link: ServerLink;
  log: Logger;
  clock: Clock;
  sleep: SleepFn;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** No wait goes past this instant (ms since epoch); Infinity until shutdown sets one. */
  deadline: () => number;
}

export class Retrier {
  constructor(private readonly o: RetryOptions) {}

  /**
   * Calls fn until the server answers (any HTTP answer but 429/5xx). Throws GaveUp when
   * keepTrying() turns false; a wait is cut short by sleepSignal or by the server coming back.
   */
  async untilAnswered<T>(fn: () => Promise<T>, keepTrying: () => boolean, sleepSignal?: AbortSignal): Promise<T> {
    const { link, clock } = this.o;
    // Jitter has its own randomness: drawing from the runner's injected generator would shift the
    // simulated failures and make a seeded failure count depend on network hiccups.
    const backoff = new Backoff(this.o.backoffMinMs, this.o.backoffMaxMs);
    for (;;) {
      try {
        const r = await fn();
        link.markUp();
        return r;
      } catch (err) {
        const busy = err instanceof ServerBusyError;
        const refused = err instanceof TokenRefusedError;
        if (!busy && !refused && !(err instanceof ServerUnavailableError)) throw err;
        // 429 means the server is up and wants us slower: wait as told, but it is no outage.
        if (busy) link.markUp();
        else if (refused) this.o.log.error({ event: 'token refused', status: err.status }, err.message);
        else link.markDown(err);
        if (!keepTrying()) throw new GaveUp(err.message);
        const delay = Math.max(backoff.next(), busy ? err.retryAfterMs : 0);
        const wait = Math.min(delay, Math.max(0, this.o.deadline() - clock.now()));
        this.o.log.debug({ event: 'retry', waitMs: wait, err: err.message }, 'retrying');
        // A signal that already fired (stop, while a job still reports) must not turn the wait into a spin.
        const wake = [sleepSignal, link.backSignal].filter((x): x is AbortSignal => x !== undefined && !x.aborted);
        await pause(this.o.sleep, wait, wake.length > 0 ? AbortSignal.any(wake) : undefined);
        if (!keepTrying()) throw new GaveUp(err.message);
      }
    }
  }
}
