/**
 * What the bot's HTTP client offers the API client (the part of fetch it uses: status, headers.get,
 * text(), an abort through a signal, and its own time limit: a timer per request, not an
 * AbortController, which was 6% of a bot's CPU), and the node:https client with a keep-alive agent
 * that bot/socket-transport.ts sends https: URLs through.
 */
import http from 'node:http';
import https from 'node:https';

export interface TransportInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
  /** The caller's abort (a bot stopping); the request rejects with 'request aborted'. */
  signal?: AbortSignal;
  /** Rejects with a TransportError whose `timedOut` is true when no whole answer came within this. */
  timeoutMs?: number;
}

export interface TransportResponse {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export type Transport = (url: string, init: TransportInit) => Promise<TransportResponse>;

/** A failure before an answer, shaped like fetch's: the cause carries the code (ECONNREFUSED, ...). */
export class TransportError extends Error {
  constructor(
    message: string,
    cause: unknown,
    /** The request's timeoutMs ran out. */
    readonly timedOut = false,
  ) {
    super(message, { cause });
  }
}

/**
 * Ends a request early: the caller's signal, or its time limit. `onEnd` is called at most once,
 * with the error to reject with; dispose() when the request ended otherwise.
 */
export class Cutoff {
  private timer: NodeJS.Timeout | null = null;
  private onEnd: ((err: TransportError) => void) | null = null;
  private readonly onAbort = () => this.end(new TransportError('request aborted', this.signal?.reason));

  constructor(
    private readonly signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
  ) {
    if (timeoutMs !== undefined)
      this.timer = setTimeout(
        () => this.end(new TransportError('request timed out', new Error(`no answer within ${timeoutMs} ms`), true)),
        timeoutMs,
      );
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Already over (the signal had fired before the request began): the error, else null. */
  get early(): TransportError | null {
    return this.signal?.aborted ? new TransportError('request aborted', this.signal.reason) : null;
  }

  listen(onEnd: (err: TransportError) => void): void {
    this.onEnd = onEnd;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.onEnd = null;
    this.signal?.removeEventListener('abort', this.onAbort);
  }

  private end(err: TransportError): void {
    const fn = this.onEnd;
    this.dispose();
    fn?.(err);
  }
}

export function keepAliveTransport(): Transport {
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: 8 }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: 8 }),
  };
  return (url, init) =>
    new Promise<TransportResponse>((resolve, reject) => {
      const cutoff = new Cutoff(init.signal, init.timeoutMs);
      const early = cutoff.early;
      if (early) {
        cutoff.dispose();
        return reject(early);
      }
      const u = new URL(url);
      const lib = u.protocol === 'https:' ? https : http;
      const agent = u.protocol === 'https:' ? agents['https:'] : agents['http:'];
      const headers: Record<string, string | number> = { ...init.headers };
      if (init.body !== undefined) headers['content-length'] = Buffer.byteLength(init.body);
      const req = lib.request(u, { method: init.method, headers, agent });
      // Whatever the destroyed request or response report afterwards, the cut-off's error is the answer.
      let cut: TransportError | null = null;
      cutoff.listen((err) => {
        cut = err;
        req.destroy(err);
      });
      const fail = (message: string) => (err: Error) => {
        cutoff.dispose();
        reject(cut ?? new TransportError(message, err));
      };
      req.on('error', fail('request failed'));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', fail('response failed'));
        res.on('aborted', () => fail('response failed')(new Error('aborted')));
        res.on('end', () => {
          cutoff.dispose();
          if (cut) return reject(cut);
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: {
              get: (name) => {
                const v = res.headers[name.toLowerCase()];
                return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
              },
            },
            text: async () => text,
          });
        });
      });
      req.end(init.body);
    });
}
