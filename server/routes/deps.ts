/** What every route module gets from the app factory. */
import type { Clock } from '../../core/clock';
import type { Logger } from '../../core/logger';
import type { DatalakeReader, DatalakeWriterCounters } from '../../datalake';
import type { ClaimWaiters } from '../claim-waiters';
import type { ServerConfig } from '../config';
import type { ServerMetrics } from '../metrics';
import type { RateLimiter } from '../http/rate-limit';
import type { Store } from '../store/types';

interface Limits {
  /** Admin routes, per client address. */
  admin: RateLimiter;
  /** Requests refused for their token (401), per client address. */
  authFailures: RateLimiter;
  /** Claims that find nothing, per bot: a bot that polls in a tight loop is slowed, real work never is. */
  emptyClaims: RateLimiter;
}

export interface AppDeps {
  store: Store;
  config: Pick<
    ServerConfig,
    | 'tokens'
    | 'TRUST_PROXY'
    | 'BATCH_SIZE'
    | 'BODY_LIMIT_BYTES'
    | 'RATE_LIMIT_ADMIN_PER_S'
    | 'RATE_LIMIT_EMPTY_CLAIMS_PER_S'
    | 'POPULATE_INTERVAL_MS'
  >;
  clock: Clock;
  log: Logger;
  reader: DatalakeReader;
  waiters: ClaimWaiters;
  metrics: ServerMetrics;
  /** Called after every finished attempt: the datalake writer drains the outbox soon. */
  onResult: () => void;
  /**
   * Called when jobs may have become claimable: wakes `count` waiting long-poll claims (new jobs),
   * else all, here and (PostgreSQL) on the other servers of the database.
   */
  onJobsAvailable: (count?: number) => void;
  /** True when every server that can make a job claimable wakes this one's waiting claims (SQLite; PostgreSQL while listening). */
  hearsEveryWakeup: () => boolean;
  /** Counters of this server's datalake writer, or null when another server writes the datalake. */
  datalakeCounters: () => DatalakeWriterCounters | null;
  limits: Limits;
}
