/**
 * The bot's side of the HTTP contract (docs/api.md), on undici's Pool (`request`, kept-alive
 * connections, http: and https:). Answers the server gave come back as a Reply (2xx, or 4xx with its
 * error code), so the runner decides what a 404 or 409 means where it happens. Everything that says
 * "the server is not there" (no connection, time limit, 5xx, a body that is not JSON) is thrown as
 * ServerUnavailableError; 429 (slow down) as ServerBusyError; an abort by the caller's signal is
 * rethrown as its reason.
 */
import { Pool } from 'undici';
import type { Bot, Job, Json } from '../core/types';

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
  /** The server's URL; a path in it (a proxy's prefix) goes before every route. */
  baseUrl: string;
  /** Time limit of one request: connecting, then the answer's headers, then each wait for its body. */
  requestTimeoutMs: number;
}

/** Undici's time-limit errors: the server did not answer in time. */
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

export class ApiClient {
  private readonly pool: Pool;
  private readonly prefix: string;

  constructor(private readonly opts: ApiClientOptions) {
    const url = new URL(opts.baseUrl);
    this.prefix = url.pathname.replace(/\/+$/, '');
    // A claim long-polls on one connection while heartbeats go on another: a few are enough.
    this.pool = new Pool(url.origin, { connections: 4, connect: { timeout: opts.requestTimeoutMs } });
  }

  register(id: string, name: string): Promise<Reply<Bot>> {
    return this.post('/bots/register', { id, name });
  }

  heartbeat(botId: string): Promise<Reply<Bot>> {
    return this.post('/bots/heartbeat', { botId });
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
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    o: { signal?: AbortSignal; extraTimeoutMs?: number } = {},
  ): Promise<Reply<T>> {
    const timeoutMs = this.opts.requestTimeoutMs + (o.extraTimeoutMs ?? 0);
    let status: number;
    let retryAfter: string | string[] | undefined;
    let text: string;
    try {
      const res = await this.pool.request({
        method,
        path: this.prefix + path,
        headers:
          body === undefined
            ? { accept: 'application/json' }
            : { 'content-type': 'application/json', accept: 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: o.signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = res.statusCode;
      retryAfter = res.headers['retry-after'];
      text = await res.body.text();
    } catch (err) {
      if (o.signal?.aborted) throw o.signal.reason;
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && TIMEOUT_CODES.has(code))
        throw new ServerUnavailableError(`${method} ${path} timed out`, { cause: err });
      // The message and code say why (connect ECONNREFUSED 127.0.0.1:3001, other side closed, ...).
      throw new ServerUnavailableError(
        `${method} ${path} failed: ${(err as Error).message}${typeof code === 'string' ? ` (${code})` : ''}`,
        { cause: err },
      );
    }
    if (status === 429) {
      const seconds = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
      const retryAfterMs = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
      throw new ServerBusyError(`${method} ${path} answered 429: ${errorOf(text).message}`, retryAfterMs);
    }
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
