/**
 * The bot's side of the HTTP contract (docs/api.md), sent on the bot's own HTTP/1.1 client
 * (bot/socket-transport.ts). Answers the server gave come back as a Reply (2xx, or 4xx with its
 * error code), so the runner decides what a 404 or 409 means where it happens. Everything that says
 * "the server is not there" (no connection, time limit, 5xx, a body that is not JSON) is thrown as
 * ServerUnavailableError; 429 (slow down) as ServerBusyError; 401/403 (BOT_TOKEN refused) as
 * TokenRefusedError; an abort by the caller's signal is rethrown as its reason. Every call is a POST
 * with `Authorization: Bearer <BOT_TOKEN>`: a bot reads nothing but what its own routes answer.
 */
import { bearer } from '../core/http/auth';
import type { LogLineInput, LogsAnswer, StopOrder } from '../core/job-control';
import type { Bot, Job, Json } from '../core/types';
import { TransportError, type Transport, type TransportResponse } from './http-transport';
import { socketTransport } from './socket-transport';

export type Reply<T> =
  { ok: true; status: number; body: T } | { ok: false; status: number; code: string; message: string };

export class ServerUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServerUnavailableError';
  }
}

/**
 * 401 or 403: the server refused BOT_TOKEN. Retried with backoff like an outage (the token may be
 * rotated on the server first), with one error line per attempt so the cause is plain in the log.
 */
export class TokenRefusedError extends Error {
  constructor(
    readonly status: number,
    serverMessage: string,
  ) {
    super(`the server refused BOT_TOKEN (${status}): ${serverMessage}`);
    this.name = 'TokenRefusedError';
  }
}

/** 429: the server is fine but wants this bot to slow down (e.g. too many empty claims). */
export class ServerBusyError extends Error {
  constructor(
    message: string,
    /** From Retry-After; 0 when the server did not say. */
    readonly retryAfterMs: number,
  ) {
    super(message);
    this.name = 'ServerBusyError';
  }
}

export type NextReport =
  | { complete: { jobId: string; attempt: number; result: Json } }
  | { fail: { jobId: string; attempt: number; error: string } };

export interface NextAnswer {
  /** The reported job after the report, or null when nothing was reported. */
  finished: Job | null;
  /** The next job, already running under this bot, or null when none came within waitMs. */
  job: Job | null;
}

/** `stop`: the job the bot named is no longer its own at that attempt (cancelled, say); stop its handler. */
export type HeartbeatAnswer = Bot & { currentAttempt: number | null; stop?: StopOrder | null };

export interface ApiClientOptions {
  /** The server's URL; a path in it (a proxy's prefix) goes before every route. */
  baseUrl: string;
  /** Time limit of one request, until its whole answer is in. */
  requestTimeoutMs: number;
  /** BOT_TOKEN: sent as `Authorization: Bearer` on every call. */
  token: string;
}

export class ApiClient {
  private readonly send: Transport = socketTransport();
  private readonly base: string;
  private readonly headers: Record<string, string>;

  constructor(private readonly opts: ApiClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
    this.headers = {
      'content-type': 'application/json',
      accept: 'application/json',
      authorization: bearer(opts.token),
    };
  }

  register(id: string, name: string): Promise<Reply<Bot>> {
    return this.post('/bots/register', { id, name });
  }

  /**
   * The bot as the server sees it, with the attempt of the job it holds (currentAttempt). Naming
   * the job it runs (`running`), the answer's `stop` says when that attempt is no longer its own.
   */
  heartbeat(botId: string, running?: { jobId: string; attempt: number }): Promise<Reply<HeartbeatAnswer>> {
    return this.post('/bots/heartbeat', { botId, ...running });
  }

  /** The progress of the attempt the bot runs. 409: it is no longer the bot's (cancelled, say). */
  progress(jobId: string, body: { botId: string; attempt: number; fraction: number; message?: string }) {
    return this.post<unknown>(`/jobs/${encodeURIComponent(jobId)}/progress`, body);
  }

  /** Log lines of the attempt the bot runs, and how many it did not send. 409 as progress. */
  logs(jobId: string, body: { botId: string; attempt: number; lines: LogLineInput[]; dropped: number }) {
    return this.post<LogsAnswer>(`/jobs/${encodeURIComponent(jobId)}/logs`, body);
  }

  /**
   * One call per job: reports the previous attempt (fenced by its attempt number) and claims AND
   * starts the next job, waiting up to waitMs for one.
   */
  next(botId: string, waitMs: number, report: NextReport | null, signal?: AbortSignal): Promise<Reply<NextAnswer>> {
    const body = { botId, ...(waitMs > 0 ? { waitMs } : {}), ...(report ? truncateError(report) : {}) };
    return this.post('/jobs/next', body, { signal, extraTimeoutMs: waitMs });
  }

  /** Hands a job back unfinished: pending again, the attempt not counted. 409: it is no longer ours. */
  release(jobId: string, botId: string, attempt: number): Promise<Reply<Job>> {
    return this.post(`/jobs/${encodeURIComponent(jobId)}/release`, { botId, attempt });
  }

  private async post<T>(
    path: string,
    body: unknown,
    o: { signal?: AbortSignal; extraTimeoutMs?: number } = {},
  ): Promise<Reply<T>> {
    const method = 'POST';
    // The transport keeps the time limit with a timer it clears when the answer is in: not an
    // AbortSignal.timeout() (its timer stays armed for the whole limit after the request ended, so at
    // hundreds of requests a second thousands of timers and signals filled the old generation), nor
    // an AbortController per request (6% of a bot's CPU).
    let res: TransportResponse;
    let text: string;
    try {
      res = await this.send(`${this.base}${path}`, {
        method,
        headers: this.headers,
        body: JSON.stringify(body),
        signal: o.signal,
        timeoutMs: this.opts.requestTimeoutMs + (o.extraTimeoutMs ?? 0),
      });
      text = await res.text();
    } catch (err) {
      if (o.signal?.aborted) throw o.signal.reason;
      if (err instanceof TransportError && err.timedOut)
        throw new ServerUnavailableError(`${method} ${path} timed out`, { cause: err });
      // The cause says why (ECONNREFUSED, ECONNRESET, ...).
      const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
      const why =
        typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : '';
      throw new ServerUnavailableError(`${method} ${path} failed: ${(err as Error).message}${why ? ` (${why})` : ''}`, {
        cause: err,
      });
    }
    const status = res.status;
    if (status === 429) {
      const seconds = Number(res.headers.get('retry-after'));
      const retryAfterMs = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
      throw new ServerBusyError(`${method} ${path} answered 429: ${errorOf(text).message}`, retryAfterMs);
    }
    if (status === 401 || status === 403) throw new TokenRefusedError(status, errorOf(text).message);
    if (status >= 500) {
      throw new ServerUnavailableError(`${method} ${path} answered ${status}: ${errorOf(text).message}`);
    }
    if (status === 204) return { ok: true, status: 204, body: null as T };
    let parsed: unknown;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // Not our server (a proxy's HTML page, say): treat it like an outage and retry.
      throw new ServerUnavailableError(`${method} ${path} answered ${status} with a body that is not JSON`);
    }
    if (status >= 200 && status < 300) return { ok: true, status, body: parsed as T };
    const e = errorOf(parsed);
    return { ok: false, status, code: e.code, message: e.message };
  }
}

/** A failure's error text goes to the server at most 10,000 characters long. */
function truncateError(report: NextReport): NextReport {
  if ('complete' in report) return report;
  return { fail: { ...report.fail, error: truncate(report.fail.error, 10000) } };
}

function errorOf(raw: unknown): { code: string; message: string } {
  let body = raw;
  if (typeof raw === 'string') {
    try {
      body = JSON.parse(raw);
    } catch {
      return { code: 'unknown', message: truncate(raw, 200) };
    }
  }
  const e = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return {
    code: typeof e?.code === 'string' ? e.code : 'unknown',
    message: typeof e?.message === 'string' ? e.message : 'no error message',
  };
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
