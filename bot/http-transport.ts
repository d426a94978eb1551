/**
 * The bot's HTTP transport: node:http (or https) with a keep-alive agent. Compared with fetch it
 * costs the bot 1.7-2.7x less CPU per request (docs/performance.md: the bots share the machine's
 * cores with the server, so client CPU is throughput). It offers the part of fetch the API client
 * uses: status, headers.get, text(), and abort through a signal.
 */
import http from 'node:http';
import https from 'node:https';

export interface TransportInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}

export interface TransportResponse {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export type Transport = (url: string, init: TransportInit) => Promise<TransportResponse>;

/** A failure before an answer, shaped like fetch's: the cause carries the code (ECONNREFUSED, ...). */
export class TransportError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
  }
}

export function keepAliveTransport(): Transport {
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: 8 }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: 8 }),
  };
  return (url, init) =>
    new Promise<TransportResponse>((resolve, reject) => {
      if (init.signal.aborted) return reject(new TransportError('request aborted', init.signal.reason));
      const u = new URL(url);
      const lib = u.protocol === 'https:' ? https : http;
      const agent = u.protocol === 'https:' ? agents['https:'] : agents['http:'];
      const headers: Record<string, string | number> = { ...init.headers };
      if (init.body !== undefined) headers['content-length'] = Buffer.byteLength(init.body);
      const req = lib.request(u, { method: init.method, headers, agent });
      const onAbort = () => req.destroy(new TransportError('request aborted', init.signal.reason));
      init.signal.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err) => {
        init.signal.removeEventListener('abort', onAbort);
        reject(err instanceof TransportError ? err : new TransportError('request failed', err));
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => {
          init.signal.removeEventListener('abort', onAbort);
          reject(new TransportError('response failed', err));
        });
        res.on('end', () => {
          init.signal.removeEventListener('abort', onAbort);
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: { get: (name) => {
              const v = res.headers[name.toLowerCase()];
              return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
            } },
            text: async () => text,
          });
        });
      });
      req.end(init.body);
    });
}
