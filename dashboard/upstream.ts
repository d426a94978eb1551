/**
 * The JSON-over-HTTP call both upstream clients (server, controller) make. It turns every way a call
 * can go wrong into one of two errors, so pages can say "unreachable" or show the upstream's own
 * error message without guessing.
 */
import http from 'node:http';
import https from 'node:https';
import { bearer } from '../core/http/auth';

/** The upstream could not be reached at all (refused, DNS, timeout, not JSON). */
export class UpstreamUnreachableError extends Error {
  constructor(
    readonly upstream: string,
    readonly cause: unknown,
  ) {
    super(`${upstream} is unreachable: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'UpstreamUnreachableError';
  }
}

/** The upstream answered with an error status; code and message come from its JSON error body. */
export class UpstreamHttpError extends Error {
  constructor(
    readonly upstream: string,
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'UpstreamHttpError';
  }
}

export interface JsonClientOptions {
  /** Name used in messages, e.g. "server". */
  name: string;
  baseUrl: string;
  /** The viewer token goes with every read, the admin token with every call marked admin. */
  tokens: { viewer: string; admin: string };
  timeoutMs: number;
}

interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  body?: unknown;
  /** Send the admin token (a control) instead of the viewer token. */
  admin?: boolean;
  query?: Record<string, string | number | undefined>;
}

export type JsonRequester = <T>(path: string, opts?: RequestOptions) => Promise<T>;

/**
 * Returns a function that calls `${baseUrl}${path}` and resolves with the parsed JSON (or null on 204).
 *
 * node:http with one keep-alive agent per upstream rather than fetch: every page makes three or
 * four calls, and fetch costs several times the CPU of node:http per call (its spec machinery, an
 * AbortSignal.timeout each that still fires seconds later), which showed in the overview's p99.
 */
export function jsonRequester(o: JsonClientOptions): JsonRequester {
  // `timeout` is the idle life of a kept socket; the upstream's Keep-Alive hint shortens it (node
  // closes ours a second before the upstream would), so a kept socket is rarely reused as it closes.
  const agents = {
    http: new http.Agent({ keepAlive: true, timeout: 30_000 }),
    https: new https.Agent({ keepAlive: true, timeout: 30_000 }),
  };
  return async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    const url = new URL(o.baseUrl + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    headers.authorization = bearer(opts.admin ? o.tokens.admin : o.tokens.viewer);
    const method = opts.method ?? 'GET';
    const agent = url.protocol === 'https:' ? agents.https : agents.http;
    let res: { status: number; text: string };
    try {
      res = await send(url, { method, headers, agent }, body, o.timeoutMs);
    } catch (err) {
      throw new UpstreamUnreachableError(o.name, err);
    }
    const { status, text } = res;
    if (status >= 200 && status < 300) {
      if (status === 204 || text === '') return null as T;
      try {
        return JSON.parse(text) as T;
      } catch (err) {
        throw new UpstreamUnreachableError(o.name, err);
      }
    }
    let code = 'upstream_error';
    let message = `${o.name} answered ${status}`;
    try {
      const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
      if (typeof parsed.error?.code === 'string') code = parsed.error.code;
      if (typeof parsed.error?.message === 'string') message = parsed.error.message;
    } catch {
      /* a non-JSON error body keeps the generic message */
    }
    throw new UpstreamHttpError(o.name, status, code, message);
  };
}

/**
 * One request, the whole body read as UTF-8 text. timeoutMs covers everything from connecting to
 * the last byte. A GET whose kept-alive socket the upstream closed just as it was reused is sent
 * once more on a new socket (node's documented remedy for that race).
 */
function send(
  url: URL,
  options: http.RequestOptions,
  body: string | undefined,
  timeoutMs: number,
): Promise<{ status: number; text: string }> {
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    let req: http.ClientRequest;
    const deadline = setTimeout(() => req.destroy(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(deadline);
      reject(err);
    };
    const start = (mayRetry: boolean) => {
      let answered = false;
      req = lib.request(url, options, (res) => {
        answered = true;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          clearTimeout(deadline);
          resolve({ status: res.statusCode ?? 0, text });
        });
        res.on('error', fail);
        res.on('close', () => {
          if (!res.complete) fail(new Error('the answer was cut off'));
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        const retry =
          mayRetry && !answered && req.reusedSocket && err.code === 'ECONNRESET' && options.method === 'GET';
        if (retry) start(false);
        else fail(err);
      });
      req.end(body);
    };
    start(true);
  });
}
