/**
 * The JSON-over-HTTP call both upstream clients (server, controller) make. It turns every way a call
 * can go wrong into one of two errors, so pages can say "unreachable" or show the upstream's own
 * error message without guessing.
 */

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
  adminToken: string;
  timeoutMs: number;
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  body?: unknown;
  /** Send the admin bearer token. Only admin routes get it, so reads work with any token. */
  admin?: boolean;
  query?: Record<string, string | number | undefined>;
}

export type JsonRequester = <T>(path: string, opts?: RequestOptions) => Promise<T>;

/** Returns a function that calls `${baseUrl}${path}` and resolves with the parsed JSON (or null on 204). */
export function jsonRequester(o: JsonClientOptions): JsonRequester {
  return async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    const url = new URL(o.baseUrl + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (opts.admin) headers.authorization = `Bearer ${o.adminToken}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: opts.method ?? 'GET',
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: AbortSignal.timeout(o.timeoutMs),
      });
    } catch (err) {
      throw new UpstreamUnreachableError(o.name, err);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw new UpstreamUnreachableError(o.name, err);
    }
    if (res.ok) {
      if (res.status === 204 || text === '') return null as T;
      try {
        return JSON.parse(text) as T;
      } catch (err) {
        throw new UpstreamUnreachableError(o.name, err);
      }
    }
    let code = 'upstream_error';
    let message = `${o.name} answered ${res.status}`;
    try {
      const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
      if (typeof body.error?.code === 'string') code = body.error.code;
      if (typeof body.error?.message === 'string') message = body.error.message;
    } catch {
      /* a non-JSON error body keeps the generic message */
    }
    throw new UpstreamHttpError(o.name, res.status, code, message);
  };
}
