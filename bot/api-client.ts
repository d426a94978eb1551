/**
 * The bot's side of the HTTP contract (../shared/API.md). Answers the server gave come back as a
 * Reply (2xx, or 4xx with its error code), so the runner decides what a 404 or 409 means where it
 * happens. Everything that says "the server is not there" (no connection, timeout, 5xx, a body
 * that is not JSON) is thrown as ServerUnavailableError; 429 (slow down) as ServerBusyError; an
 * abort by the caller's signal is rethrown as is.
 */
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

export interface ApiClientOptions {
  baseUrl: string;
  requestTimeoutMs: number;
  /** How requests are sent; default HTTP/1.1 on a kept-alive socket (bot/socket-transport.ts), or keepAliveTransport (node:http). */
  fetch?: Transport;
}

export class ApiClient {
  private readonly fetch: Transport;

  constructor(private readonly opts: ApiClientOptions) {
    this.fetch = opts.fetch ?? socketTransport();
  }

  register(id: string, name: string): Promise<Reply<Bot>> {
    return this.post('/bots/register', { id, name });
  }

  heartbeat(botId: string): Promise<Reply<Bot>> {
    return this.post('/bots/heartbeat', { botId });
  }

  /** Long-polls up to waitMs; body null means nothing was pending (204). */
  claim(botId: string, waitMs: number, signal?: AbortSignal): Promise<Reply<Job | null>> {
    const body = waitMs > 0 ? { botId, waitMs } : { botId };
    return this.post('/jobs/claim', body, { signal, extraTimeoutMs: waitMs });
  }

  /**
   * The lean path, one call per job: reports the previous attempt (fenced by its attempt number)
   * and claims AND starts the next job, waiting up to waitMs for one.
   */
  next(botId: string, waitMs: number, report: NextReport | null, signal?: AbortSignal): Promise<Reply<NextAnswer>> {
    return this.post(
      '/jobs/next',
      { botId, ...(waitMs > 0 ? { waitMs } : {}), ...(report ?? {}) },
      { signal, extraTimeoutMs: waitMs },
    );
  }

  // start/complete/fail always name the attempt: the server answers 409 when the job has moved on
  // to a newer attempt (our lease expired), so stale work can never overwrite a newer result.
  start(jobId: string, botId: string, attempt: number): Promise<Reply<Job>> {
    return this.post(`/jobs/${encodeURIComponent(jobId)}/start`, { botId, attempt });
  }

  complete(jobId: string, botId: string, attempt: number, result: Json): Promise<Reply<Job>> {
    return this.post(`/jobs/${encodeURIComponent(jobId)}/complete`, { botId, attempt, result });
  }

  fail(jobId: string, botId: string, attempt: number, error: string): Promise<Reply<Job>> {
    return this.post(`/jobs/${encodeURIComponent(jobId)}/fail`, { botId, attempt, error: truncate(error, 10000) });
  }

  getJob(jobId: string): Promise<Reply<Job>> {
    return this.request('GET', `/jobs/${encodeURIComponent(jobId)}`);
  }

  getBot(botId: string): Promise<Reply<Bot>> {
    return this.request('GET', `/bots/${encodeURIComponent(botId)}`);
  }

  private post<T>(
    path: string,
    body: unknown,
    o?: { signal?: AbortSignal; extraTimeoutMs?: number },
  ): Promise<Reply<T>> {
    return this.request('POST', path, body, o);
  }

  private async request<T>(
    method: string,
    path: string,
    body?: unknown,
    o: { signal?: AbortSignal; extraTimeoutMs?: number } = {},
  ): Promise<Reply<T>> {
    // The transport keeps the time limit with a timer it clears when the answer is in: not an
    // AbortSignal.timeout() (its timer stays armed for the whole 10 s after the request ended, so at
    // hundreds of requests a second thousands of timers and signals filled the old generation), nor
    // an AbortController per request (6% of a bot's CPU). docs/performance.md, bot memory and CPU.
    let res: TransportResponse;
    let text: string;
    try {
      res = await this.fetch(`${this.opts.baseUrl}${path}`, {
        method,
        headers:
          body === undefined
            ? { accept: 'application/json' }
            : { 'content-type': 'application/json', accept: 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
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
    if (res.status === 429) {
      const seconds = Number(res.headers.get('retry-after'));
      const retryAfterMs = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
      throw new ServerBusyError(`${method} ${path} answered 429: ${errorOf(text).message}`, retryAfterMs);
    }
    if (res.status >= 500) {
      throw new ServerUnavailableError(`${method} ${path} answered ${res.status}: ${errorOf(text).message}`);
    }
    if (res.status === 204) return { ok: true, status: 204, body: null as T };
    let parsed: unknown;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // Not our server (a proxy's HTML page, say): treat it like an outage and retry.
      throw new ServerUnavailableError(`${method} ${path} answered ${res.status} with a body that is not JSON`);
    }
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status, body: parsed as T };
    const e = errorOf(parsed);
    return { ok: false, status: res.status, code: e.code, message: e.message };
  }
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
