/**
 * One server at a time appends to the datalake. On SQLite the server is the only one anyway. On
 * PostgreSQL the leader holds a session advisory lock on a connection of its own; if that connection
 * dies the lock is gone, the leader steps down, and another server (or this one, later) takes over.
 */
import pg from 'pg';
import type { Logger } from '../core/logger';
import type { PostgresTarget } from './store/open';

const LOCK_KEY = 727002;

export interface Leadership {
  start(onGain: () => void, onLose: () => void): void;
  /** Tries to become the leader now rather than at the next retry; true when this server leads. */
  acquireNow(): Promise<boolean>;
  stop(): Promise<void>;
}

export function alwaysLeader(): Leadership {
  return {
    start: (onGain) => onGain(),
    acquireNow: async () => true,
    stop: async () => {},
  };
}

export function postgresLeadership(target: PostgresTarget, log: Logger, retryMs = 2000): Leadership {
  // The lock key is per schema, so test runs in separate schemas do not block each other.
  const keyText = target.schema ?? 'public';
  let client: pg.Client | null = null;
  let leader = false;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let gain = () => {};
  let lose = () => {};

  const drop = () => {
    const c = client;
    client = null;
    if (leader) {
      leader = false;
      log.warn('datalake leadership lost');
      lose();
    }
    c?.end().catch(() => {});
  };

  const attempt = async () => {
    timer = null;
    if (stopped || leader) return;
    try {
      const c = new pg.Client({ connectionString: target.url, connectionTimeoutMillis: 3000 });
      c.on('error', () => drop());
      c.on('end', () => drop());
      client = c;
      await c.connect();
      const r = await c.query('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [LOCK_KEY, keyText]);
      if (r.rows[0].ok === true && !stopped) {
        leader = true;
        log.info('datalake leadership taken: this server writes the datalake');
        gain();
      } else {
        client = null;
        await c.end();
      }
    } catch {
      drop();
    }
    if (!stopped && !leader) {
      timer = setTimeout(attempt, retryMs);
      timer.unref();
    }
  };

  return {
    start(onGain, onLose) {
      gain = onGain;
      lose = () => {
        onLose();
        if (!stopped) {
          timer = setTimeout(attempt, retryMs);
          timer.unref();
        }
      };
      void attempt();
    },
    async acquireNow() {
      if (leader || stopped) return leader;
      if (timer) clearTimeout(timer);
      timer = null;
      await attempt();
      return leader;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = null;
      leader = false;
      await c?.end().catch(() => {});
    },
  };
}
