/**
 * The store: every read and write of jobs, bots, results and events. One implementation per database
 * (sqlite/store.ts, postgres/store.ts) behind this one interface, both held to one contract suite
 * (contract/*.test.ts). Times are ms since the epoch (the caller's clock); durations in ms.
 */
import type { Logger } from '../../core/logger';
import type { Bot, CreateJob, Job, JobEvent, ListJobsOptions, Page, Summary } from '../../core/types';
import type { CountingOutboxSource } from '../../datalake/repair';
import type { Leadership } from '../leadership';
import type { Wakeups } from '../pg-wakeups';
import type { JobControlStore } from './job-control';
import type { ScheduleStore } from './schedules';

export interface StoreOptions {
  /** Attempts a job gets when it names none (MAX_ATTEMPTS, default 1). */
  defaultMaxAttempts: number;
  /** Running time a job gets when it names none (JOB_TIMEOUT_MS, 0 = no limit). */
  defaultTimeoutMs: number;
  /** Silence after which a bot is down and its lease ends (BOT_DOWN_AFTER_MS, default 120000). */
  botDownAfterMs: number;
}

export interface CreateResult {
  job: Job;
  /** false when `key` matched an unfinished job, which is returned instead. */
  created: boolean;
}

export interface JobWithEvents extends Job {
  events: JobEvent[];
}

export interface BotWithJobs extends Bot {
  recentJobs: Job[];
  /** Jobs that left this bot without its report (a release reason of core/job-state), newest first. */
  lostLeases: { jobId: string; attempt: number; at: string; note: string | null }[];
}

export interface SweepResult {
  botsDown: string[];
  released: { jobId: string; botId: string | null; to: 'pending' | 'failed'; reason: string }[];
}

export interface FencedCall {
  jobId: string;
  botId: string;
  /** The attempt the bot works on (the claimed job's `attempts`); a stale one gets 409. */
  attempt?: number;
}

/** What a bot reports about the attempt it just ran, in the same call that asks for the next job. */
export type FinishedAttempt =
  { jobId: string; attempt: number; result: unknown } | { jobId: string; attempt: number; error: string };

export interface Store extends CountingOutboxSource {
  /** Brings the schema to the latest migration (Knex's migrator). */
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** Throws when the database does not answer. */
  ping(): Promise<void>;

  createJobs(inputs: CreateJob[], nowMs: number): Promise<CreateResult[]>;
  getJob(id: string): Promise<JobWithEvents | null>;
  listJobs(opts: ListJobsOptions): Promise<Page<Job>>;
  /** One statement picks the job; null when nothing is claimable. 404 unknown bot, 409 down or busy. */
  claimJob(botId: string, nowMs: number): Promise<Job | null>;
  /**
   * The lean bot path, one transaction: completes or fails the bot's previous attempt (fenced, like
   * completeJob/failJob), then claims AND starts its next job (null when nothing is claimable).
   */
  finishAndClaim(
    botId: string,
    finished: FinishedAttempt | null,
    nowMs: number,
  ): Promise<{ finished: Job | null; job: Job | null }>;
  startJob(call: FencedCall, nowMs: number): Promise<Job>;
  completeJob(call: FencedCall, result: unknown, nowMs: number): Promise<Job>;
  failJob(call: FencedCall, error: string, nowMs: number): Promise<Job>;
  /**
   * A bot hands back the job it holds at `attempt` (it was stopped in the middle): pending again with
   * the attempt not counted, no result line; the bot is idle. 404 unknown job, 409 `not_your_job`.
   */
  releaseJob(call: Required<FencedCall>, nowMs: number): Promise<Job>;
  /** Admin: failed or cancelled → pending with a fresh attempt budget. 409 otherwise. */
  retryJob(id: string, nowMs: number): Promise<Job>;
  /**
   * Admin: pending → cancelled; claimed or running → cancelled at once, its attempt ended with a
   * cancelled result line and its bot idle (the bot learns it from its next call). 409 otherwise.
   */
  cancelJob(id: string, nowMs: number): Promise<Job>;
  /** Progress and log lines of running jobs (store/job-control.ts). */
  readonly control: JobControlStore;

  registerBot(input: { id: string; name?: string }, nowMs: number): Promise<{ bot: Bot; created: boolean }>;
  heartbeat(botId: string, nowMs: number): Promise<Bot>;
  listBots(): Promise<Bot[]>;
  getBot(id: string): Promise<BotWithJobs | null>;
  /** Removes the bot; its job goes back to pending (or failed at maxAttempts). false if unknown. */
  deleteBot(id: string, nowMs: number): Promise<boolean>;

  /** Marks silent bots down and releases their jobs; releases expired leases and timed-out jobs. */
  sweep(nowMs: number): Promise<SweepResult>;

  /** The earliest runAt after nowMs of a pending job (ms), or null: when a waiting claim must look again. */
  nextRunAt(nowMs: number): Promise<number | null>;

  isPaused(): Promise<boolean>;
  setPaused(paused: boolean): Promise<void>;

  summary(nowMs: number): Promise<Summary>;

  /**
   * Runs fn once per period of `intervalMs` across every server on this database: returns true if
   * this call ran it. A clock stepped back never runs a period twice.
   */
  runOncePerPeriod(name: string, intervalMs: number, nowMs: number, fn: () => Promise<void>): Promise<boolean>;

  /** Cron schedules (store/schedules.ts): their rows, and each firing taken once across servers. */
  readonly schedules: ScheduleStore;

  /** Deletes result rows of days before `day` (YYYY-MM-DD), for datalake retention. */
  pruneResultsBefore(day: string): Promise<number>;

  /** Which server of this database runs the background duties (the datalake writer, the sweeper, the scheduler). */
  leadership(log: Logger): Leadership;
  /** How servers of this database wake each other's waiting claims when jobs become claimable. */
  wakeups(log: Logger, onWake: (count?: number) => void): Wakeups;
}

/** The database named by DATABASE_URL cannot be used (a bad URL, a file another server holds, an old SQLite). */
export class StoreOpenError extends Error {}
