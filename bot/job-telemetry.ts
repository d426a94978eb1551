/**
 * What a running handler tells the server besides its result: progress (POST /jobs/:id/progress, at
 * most one a second, the last one always sent) and log lines (POST /jobs/:id/logs, batched, one
 * request in flight per job). Each line also goes to the bot's stdout. Best effort: a batch the
 * server could not take is counted as dropped and not retried. A 404 or 409 says the attempt is no
 * longer this bot's (cancelled, or taken back): `onStopped` stops the handler at once.
 */
import type { Logger } from '../core/logger';
import { LOG_LIMITS, type LogLineInput } from '../core/job-control';
import type { Job, LogLevel } from '../core/types';
import type { ApiClient, Reply } from './api-client';
import type { JobLog } from './handlers';

/** Least time between two progress updates of one job. */
export const PROGRESS_EVERY_MS = 1000;
/** Most time a log line waits in the bot before it is sent. */
export const LOG_FLUSH_MS = 500;
/** Lines waiting in the bot at most; a handler that logs faster than they go out loses the rest (counted). */
const BUFFER_LINES = 2 * LOG_LIMITS.linesPerBatch;
/** Time the last progress and lines get to reach the server before the result is reported. */
const FINAL_FLUSH_MS = 2000;

export interface TelemetryDeps {
  api: ApiClient;
  botId: string;
  job: Job;
  /** The bot's logger for this job: every handler line goes there too. */
  log: Logger;
  /** The server no longer has this attempt as the bot's. */
  onStopped: (detail: string) => void;
}

export class JobTelemetry {
  readonly log: JobLog;
  private lines: LogLineInput[] = [];
  private dropped = 0;
  /** The server's log of this attempt is at its bound: lines are only counted from now on. */
  private full = false;
  private pendingProgress: { fraction: number; message?: string } | null = null;
  private lastProgressAt = -Infinity;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private stopped = false;
  private finishing = false;
  private warned = false;

  constructor(private readonly d: TelemetryDeps) {
    const at = (level: LogLevel) => (msg: string) => {
      d.log[level]({ event: 'job log' }, msg);
      this.line(level, msg);
    };
    this.log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  }

  progress(fraction: number, message?: string): void {
    if (this.stopped || !Number.isFinite(fraction)) return;
    const f = Math.min(1, Math.max(0, fraction));
    const m = message === undefined || message === '' ? undefined : message.slice(0, 200);
    this.pendingProgress = { fraction: f, ...(m !== undefined ? { message: m } : {}) };
    this.schedule(Math.max(0, this.lastProgressAt + PROGRESS_EVERY_MS - Date.now()));
  }

  /** Sends what is waiting (the last progress, the lines) before the attempt is reported; bounded in time. */
  async finish(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return;
    this.finishing = true;
    // A job that sent nothing (a 0 ms simulated job) costs no timer.
    if (this.inFlight || this.hasWork()) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, FINAL_FLUSH_MS)));
      const drain = async () => {
        while (!this.stopped && (this.inFlight || this.hasWork())) await (this.inFlight ?? this.send());
      };
      await Promise.race([drain(), deadline]);
      clearTimeout(timer);
    }
    this.stopped = true;
  }

  /** Stops sending (the attempt is over). */
  close(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private line(level: LogLevel, msg: string): void {
    if (this.stopped) return;
    if (this.full || this.lines.length >= BUFFER_LINES) {
      this.dropped++;
    } else {
      const text = msg.length > LOG_LIMITS.lineChars ? `${msg.slice(0, LOG_LIMITS.lineChars - 1)}…` : msg;
      this.lines.push({ at: new Date().toISOString(), level, line: text.replaceAll('\u0000', '\uFFFD') });
    }
    this.schedule(this.lines.length >= LOG_LIMITS.linesPerBatch ? 0 : LOG_FLUSH_MS);
  }

  private hasWork(): boolean {
    return this.pendingProgress !== null || this.lines.length > 0 || this.dropped > 0;
  }

  /** Sends within `ms` unless a send is already due sooner; one request at a time. */
  private schedule(ms: number): void {
    if (this.stopped || this.timer || this.inFlight) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.send();
    }, ms);
    this.timer.unref();
  }

  private send(): Promise<void> {
    const { api, botId, job } = this.d;
    const attempt = job.attempts;
    const due = this.finishing || Date.now() - this.lastProgressAt >= PROGRESS_EVERY_MS;
    const progress = due ? this.pendingProgress : null;
    const lines = this.lines.splice(0, LOG_LIMITS.linesPerBatch);
    const dropped = this.dropped;
    this.dropped = 0;
    if (progress) this.pendingProgress = null;
    this.inFlight = (async () => {
      if (progress) {
        this.lastProgressAt = Date.now();
        this.check(await api.progress(job.id, { botId, attempt, ...progress }).catch(this.failed), 'progress');
      }
      if (!this.stopped && (lines.length > 0 || dropped > 0)) {
        const r = await api.logs(job.id, { botId, attempt, lines, dropped }).catch(this.failed);
        if (r?.ok) this.full = r.body.full;
        else this.dropped += lines.length + dropped;
        this.check(r, 'log lines');
      }
    })().finally(() => {
      this.inFlight = null;
      if (this.hasWork()) {
        const waitProgress = this.lastProgressAt + PROGRESS_EVERY_MS - Date.now();
        this.schedule(this.lines.length > 0 || this.dropped > 0 ? LOG_FLUSH_MS : Math.max(0, waitProgress));
      }
    });
    return this.inFlight;
  }

  /** A request that got no answer (server away or busy): what it carried is dropped. */
  private readonly failed = (): null => null;

  private check(r: Reply<unknown> | null, what: string): void {
    if (!r || r.ok) return;
    if (r.status === 404 || r.status === 409) {
      this.close();
      return this.d.onStopped(`the server refused ${what}: ${r.message}`);
    }
    if (!this.warned) {
      this.warned = true;
      this.d.log.warn(
        { event: 'telemetry refused', status: r.status, code: r.code, reason: r.message },
        `${what} refused`,
      );
    }
  }
}
