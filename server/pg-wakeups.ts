/**
 * Wake-ups across servers on one PostgreSQL database (LISTEN/NOTIFY). A server that makes jobs
 * claimable (creates, releases, retries, resumes) wakes its own waiting long-polls and tells the
 * others through NOTIFY on one channel; each wakes as many of its own. While a server listens, its
 * waiting claims need not look again every 250 ms for jobs another server created: they sleep like
 * SQLite's (routes/jobs.ts), so 50 idle bots do not make 200 empty claims a second.
 *
 * One dedicated connection listens; when it drops, hearsAll() is false (the claims poll again)
 * and it reconnects every `retryMs`. A notification names the schema and the sending server, so
 * servers of other schemas on the same database, and the sender itself, ignore it.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../core/logger';
import type { PostgresTarget } from './store/open';

export const WAKE_CHANNEL = 'botfleet_jobs';

export interface Wakeups {
  /** True when every wake-up meant for this server reaches it: always for SQLite's sole server, on PostgreSQL while it listens. */
  hearsAll(): boolean;
  /** Tells the other servers that `count` jobs (all: undefined) may have become claimable. */
  publish(count?: number): void;
  stop(): Promise<void>;
}

/** The listening connection's application_name in pg_stat_activity. */
export function applicationName(schema: string): string {
  return `botfleet wake-ups ${schema}`.slice(0, 63);
}

/** SQLite: the one server makes every change itself; nobody to tell, nothing to miss. */
export const soleServer: Wakeups = { hearsAll: () => true, publish: () => {}, stop: async () => {} };

export function postgresWakeups(
  target: PostgresTarget,
  log: Logger,
  onWake: (count?: number) => void,
  retryMs = 1000,
): Wakeups {
  const url = target.url;
  const schema = target.schema ?? 'public';
  const me = randomUUID();
  let client: pg.Client | null = null;
  let live = false;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;

  const retry = () => {
    if (stopped || timer) return;
    timer = setTimeout(connect, retryMs);
    timer.unref();
  };

  const drop = (c: pg.Client) => {
    if (client !== c) return;
    client = null;
    if (live) log.warn('lost the wake-up connection to PostgreSQL; waiting claims poll every 250 ms until it is back');
    live = false;
    c.end().catch(() => {});
    retry();
  };

  async function connect(): Promise<void> {
    timer = null;
    if (stopped) return;
    // Named, so an operator (or a test) can find it in pg_stat_activity.
    const c = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: 3000,
      application_name: applicationName(schema),
    });
    client = c;
    c.on('error', () => drop(c));
    c.on('end', () => drop(c));
    c.on('notification', (n) => {
      const [from, sender, count] = (n.payload ?? '').split('|');
      if (n.channel !== WAKE_CHANNEL || from !== schema || sender === me) return;
      const k = Number(count);
      onWake(count === '' || !Number.isInteger(k) || k < 0 ? undefined : k);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${WAKE_CHANNEL}`);
      if (client !== c || stopped) return;
      live = true;
      log.info('listening for wake-ups from other servers');
      // Jobs made claimable while this server was not listening: let its waiting claims look once.
      onWake();
    } catch {
      drop(c);
    }
  }

  // Wake-ups within one event-loop turn go out as one NOTIFY (a loop of single enqueues, say).
  let pending: number | 'all' | 0 = 0;
  // Not listening ourselves, a NOTIFY goes out on a connection of its own, one at a time: wake-ups
  // that come meanwhile wait for it and go out together next.
  let detour: Promise<void> | null = null;
  const send = () => {
    if (detour) return;
    const payload = `${schema}|${me}|${pending === 'all' ? '' : pending}`;
    pending = 0;
    const c = client;
    if (live && c) {
      c.query('SELECT pg_notify($1, $2)', [WAKE_CHANNEL, payload]).catch(() => drop(c));
      return;
    }
    // The others may still be listening, and sleep until told.
    const once = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
    once.on('error', () => {});
    detour = once
      .connect()
      .then(() => once.query('SELECT pg_notify($1, $2)', [WAKE_CHANNEL, payload]))
      .then(
        () => undefined,
        () => undefined, // the database is away: the others' claims fail and retry anyway
      )
      .finally(() => {
        void once.end().catch(() => {});
        detour = null;
        if (pending !== 0 && !stopped) send();
      });
  };

  void connect();

  return {
    hearsAll: () => live,
    publish(count) {
      if (stopped) return;
      const first = pending === 0;
      pending = count === undefined || pending === 'all' ? 'all' : pending + count;
      if (first && pending !== 0 && !detour) setImmediate(send);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = null;
      live = false;
      await c?.end().catch(() => {});
    },
  };
}
