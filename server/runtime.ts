/**
 * Builds and runs a whole server from its config: store, migrations, datalake repair and writer,
 * scheduler, sweeper, retention and the HTTP listener. main.ts adds signals; tests use it in-process.
 */
import http from 'node:http';
import type Koa from 'koa';
import type { AddressInfo } from 'node:net';
import { type Clock, systemClock } from '../core/clock';
import type { Logger } from '../core/logger';
import { applyRetention, DatalakeReader } from '../datalake';
import { DatalakeDuty } from './datalake-duty';
import { createApp } from './app';
import { ClaimWaiters } from './claim-waiters';
import type { ServerConfig } from './config';
import { LeaseSweeper } from './lease-sweeper';
import { ServerMetrics } from './metrics';
import { RateLimiter } from './http/rate-limit';
import { ScheduleRunner } from './schedule-runner';
import { Scheduler } from './scheduler';
import { openStore, parseDatabaseUrl } from './store/open';
import type { Store } from './store/types';

export interface RunningServer {
  url: string;
  port: number;
  store: Store;
  /** The kind of database DATABASE_URL names. */
  database: 'sqlite' | 'postgres';
  /** The Koa app serving the API (its router lists every route). */
  app: Koa;
  /** Stops accepting, finishes in-flight requests (up to SHUTDOWN_TIMEOUT_MS), flushes the datalake. */
  close(): Promise<void>;
}

const DAY_MS = 24 * 3600 * 1000;

export async function runServer(config: ServerConfig, log: Logger, clock: Clock = systemClock): Promise<RunningServer> {
  const store = await openStore(config.DATABASE_URL, {
    defaultMaxAttempts: config.MAX_ATTEMPTS,
    defaultTimeoutMs: config.JOB_TIMEOUT_MS,
    botDownAfterMs: config.BOT_DOWN_AFTER_MS,
    sqliteSynchronous: config.SQLITE_SYNCHRONOUS,
    poolMax: config.PG_POOL_MAX,
    onCheckpointError: (message) =>
      log.warn(
        { err: message },
        'SQLite background checkpoint failed; the server checkpoints itself past the fallback size',
      ),
  });
  await store.migrate();
  const database = parseDatabaseUrl(config.DATABASE_URL).kind;
  log.info({ database }, 'database ready');

  const metrics = new ServerMetrics();
  const waiters = new ClaimWaiters();
  const reader = new DatalakeReader(config.DATALAKE_DIR);
  const datalake = new DatalakeDuty(config.DATALAKE_DIR, store, log, config.DATALAKE_VERIFY);
  const leadership = store.leadership(log);
  let firstStart: Promise<void> = Promise.resolve();
  const wakeups = store.wakeups(log, (count) => waiters.notify(count));
  const onJobsAvailable = (count?: number) => {
    waiters.notify(count);
    wakeups.publish(count);
  };
  const onResult = () => datalake.notify();
  const scheduler = new Scheduler(
    store,
    clock,
    log,
    { intervalMs: config.POPULATE_INTERVAL_MS, batchSize: config.BATCH_SIZE },
    onJobsAvailable,
  );
  // Cron schedules fire on every server: each firing is taken in the database, not by a leader.
  const schedules = new ScheduleRunner(
    store,
    clock,
    log,
    { tickMs: config.SCHEDULE_TICK_MS, misfireGraceMs: config.SCHEDULE_MISFIRE_GRACE_MS },
    onJobsAvailable,
  );
  const sweeper = new LeaseSweeper(store, clock, log, config.SWEEP_INTERVAL_MS, metrics, () => {
    onResult();
    onJobsAvailable();
  });
  const retention = async () => {
    if (config.DATALAKE_RETENTION_DAYS <= 0) return;
    try {
      const r = await applyRetention(config.DATALAKE_DIR, config.DATALAKE_RETENTION_DAYS, clock.now(), log);
      if (r.keepFrom) await store.pruneResultsBefore(r.keepFrom);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'datalake retention failed');
    }
  };
  let retentionTimer: NodeJS.Timeout | null = null;

  // The background duties run on one server at a time (the leader; on SQLite, always this one). The
  // scheduler also takes each period in the database, and every sweep change is a guarded update,
  // so even an overlap during a change of leader cannot double a batch or a release.
  let closingDown = false;
  leadership.start(
    () => {
      firstStart = datalake.start();
      if (closingDown) return; // taken only to flush the datalake on the way out
      scheduler.start();
      sweeper.start();
      void retention();
      retentionTimer = setInterval(retention, DAY_MS);
      retentionTimer.unref();
    },
    () => {
      void datalake.stop(false); // another server may be the writer already: append nothing more
      void scheduler.stop();
      void sweeper.stop();
      if (retentionTimer) clearInterval(retentionTimer);
    },
  );
  await firstStart; // SQLite: repaired and writing before the first request; PostgreSQL: once leader
  schedules.start();

  const app = createApp({
    store,
    config,
    clock,
    log,
    reader,
    waiters,
    metrics,
    onResult,
    onJobsAvailable,
    hearsEveryWakeup: wakeups.hearsAll,
    datalakeCounters: () => datalake.counters(),
    limits: {
      admin: new RateLimiter(config.RATE_LIMIT_ADMIN_PER_S, config.RATE_LIMIT_ADMIN_PER_S * 2, clock),
      authFailures: new RateLimiter(
        config.RATE_LIMIT_AUTH_FAILURES_PER_S,
        config.RATE_LIMIT_AUTH_FAILURES_PER_S * 2,
        clock,
      ),
      emptyClaims: new RateLimiter(
        config.RATE_LIMIT_EMPTY_CLAIMS_PER_S,
        config.RATE_LIMIT_EMPTY_CLAIMS_PER_S * 2,
        clock,
      ),
    },
  });
  const server = http.createServer(app.callback());
  server.keepAliveTimeout = 65_000;
  // Time to receive a whole request (not to answer it: long-polls wait up to 30 s after that).
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.SERVER_PORT, config.SERVER_HOST, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.SERVER_HOST === '0.0.0.0' ? '127.0.0.1' : config.SERVER_HOST}:${port}`;

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      waiters.close(); // waiting long-polls answer 204 now
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections become idle as their last answer goes out: close them as they do.
      server.closeIdleConnections();
      const idle = setInterval(() => server.closeIdleConnections(), 50);
      const forced = setTimeout(() => server.closeAllConnections(), config.SHUTDOWN_TIMEOUT_MS);
      forced.unref();
      await drained; // every request in flight has been answered (or cut at SHUTDOWN_TIMEOUT_MS)
      clearTimeout(forced);
      clearInterval(idle);
      if (retentionTimer) clearInterval(retentionTimer);
      await scheduler.stop();
      await schedules.stop();
      await sweeper.stop();
      // A server that is not the leader right now (PostgreSQL leadership changing hands) tries to take
      // it once, so that what it finished reaches the datalake before it exits; if another server
      // leads, that one writes it.
      closingDown = true;
      if (!datalake.counters() && (await leadership.acquireNow().catch(() => false))) await firstStart;
      await datalake.stop(true);
      await leadership.stop();
      await wakeups.stop();
      await store.close();
    })());

  return { url, port, store, database, app, close };
}
