/**
 * Whether the server answers, shared by the claim loop and the heartbeat so that a fleet of
 * failing requests yields exactly one "server unreachable" line and one "server back" line.
 */
import type { Logger } from '../core/logger';
import type { Clock } from '../core/clock';

export class ServerLink {
  private downSince: number | null = null;
  private back: AbortController | null = null;

  constructor(
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {}

  get isDown(): boolean {
    return this.downSince !== null;
  }

  /**
   * While the server is down: fires when any caller sees it answer again, so a claim loop asleep
   * in a long backoff resumes as soon as the heartbeat gets through.
   */
  get backSignal(): AbortSignal | undefined {
    return this.back?.signal;
  }

  markDown(err: unknown): void {
    if (this.downSince !== null) return;
    this.downSince = this.clock.now();
    this.back = new AbortController();
    this.log.warn({ event: 'server unreachable', err: describe(err) }, 'server unreachable; retrying with backoff');
  }

  markUp(): void {
    if (this.downSince === null) return;
    const downForMs = this.clock.now() - this.downSince;
    this.downSince = null;
    this.back?.abort();
    this.back = null;
    this.log.info({ event: 'server back', downForMs }, 'server back');
  }
}

export function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    const code = cause && typeof cause === 'object' && 'code' in cause ? ` (${String(cause.code)})` : '';
    return `${err.message}${code}`;
  }
  return String(err);
}
