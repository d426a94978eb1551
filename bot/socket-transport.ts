/**
 * The bot's HTTP client: HTTP/1.1 written and read on a kept-alive net.Socket, without node:http's
 * request and response objects. A bot sends one small JSON request at a time and reads one small JSON
 * answer; node:http's machinery around that (agent, outgoing and incoming message streams, header
 * objects) cost the bot 440-500 µs of CPU per job in a 4-bot drain, this 155-180 µs, and the drain ran
 * 1.37-1.43x faster; undici's Pool cost it 1.34x the CPU per job of this client (docs/bots.md). https:
 * URLs go through node:https (keepAliveTransport in http-transport.ts).
 *
 * What it speaks: requests with Content-Length; answers framed by Content-Length, chunked transfer
 * encoding, or the connection closing; 1xx answers skipped; Connection: close and the server's
 * Keep-Alive timeout honoured. A connection is reused only after a whole answer was read. A request
 * on a reused connection that the server closed before answering a single byte (it timed the idle
 * connection out just as the request went) is sent once more on a new connection, as browsers do;
 * the server never saw it.
 */
import net from 'node:net';
import {
  Cutoff,
  keepAliveTransport,
  TransportError,
  type Transport,
  type TransportInit,
  type TransportResponse,
} from './http-transport';

/** An answer larger than this is refused: the bot's answers are a few KB. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
/** Idle connections kept per server. */
const MAX_IDLE = 8;
/** Taken off the server's Keep-Alive timeout, so a connection is not reused just as it closes it. */
const KEEP_ALIVE_MARGIN_MS = 1000;

interface Answer {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
  /** Whether the connection may carry another request. */
  reusable: boolean;
  /** How long the server keeps the connection open while idle (its Keep-Alive header), if it said. */
  idleTimeoutMs: number | null;
}

/** Reads one HTTP/1.1 answer from bytes as they arrive; `feed` returns it once it is complete. */
export class AnswerParser {
  private buf: Buffer = Buffer.alloc(0);
  private head: { status: number; headers: Map<string, string>; version: string } | null = null;
  private framing: { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' } | { kind: 'none' } = {
    kind: 'none',
  };
  private chunks: Buffer[] = [];
  private chunkedLength = 0;

  constructor(private readonly method: string) {}

  /** Adds bytes; returns the answer when complete, null while more are needed; throws on a malformed one. */
  feed(data: Buffer): Answer | null {
    this.buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data]);
    if (this.buf.length > MAX_ANSWER_BYTES) throw new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`);
    if (!this.head && !this.readHead()) return null;
    return this.readBody();
  }

  /** The connection closed: completes an answer framed by the close, else throws. */
  end(): Answer {
    if (this.head && this.framing.kind === 'close') return this.answer(this.buf, false);
    throw new Error(
      this.head ? 'connection closed before the whole answer arrived' : 'connection closed before an answer',
    );
  }

  private readHead(): boolean {
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.buf.length > 64 * 1024) throw new Error('answer headers larger than 64 KB');
        return false;
      }
      const lines = this.buf.toString('latin1', 0, end).split('\r\n');
      this.buf = this.buf.subarray(end + 4);
      const m = /^HTTP\/(1\.[01]) (\d{3})(?: .*)?$/.exec(lines[0]);
      if (!m) throw new Error(`not an HTTP/1.x status line: ${JSON.stringify(lines[0].slice(0, 80))}`);
      const status = Number(m[2]);
      if (status >= 100 && status < 200) continue; // 100 Continue and the like come before the answer
      const headers = new Map<string, string>();
      for (let i = 1; i < lines.length; i++) {
        const colon = lines[i].indexOf(':');
        if (colon <= 0) throw new Error(`malformed header line: ${JSON.stringify(lines[i].slice(0, 80))}`);
        const name = lines[i].slice(0, colon).trim().toLowerCase();
        const value = lines[i].slice(colon + 1).trim();
        const prior = headers.get(name);
        headers.set(name, prior === undefined ? value : `${prior}, ${value}`);
      }
      this.head = { status, headers, version: m[1] };
      const te = headers.get('transfer-encoding');
      const cl = headers.get('content-length');
      if (this.method === 'HEAD' || status === 204 || status === 304) this.framing = { kind: 'none' };
      else if (te !== undefined && /(^|,)\s*chunked\s*$/i.test(te)) this.framing = { kind: 'chunked' };
      else if (cl !== undefined) {
        if (!/^\d+$/.test(cl)) throw new Error(`bad content-length: ${JSON.stringify(cl)}`);
        this.framing = { kind: 'length', length: Number(cl) };
      } else this.framing = { kind: 'close' };
      return true;
    }
  }

  private readBody(): Answer | null {
    const f = this.framing;
    if (f.kind === 'none') return this.answer(Buffer.alloc(0), this.buf.length === 0);
    if (f.kind === 'close') return null;
    if (f.kind === 'length') {
      if (this.buf.length < f.length) return null;
      return this.answer(this.buf.subarray(0, f.length), this.buf.length === f.length);
    }
    // chunked: size line, data, CRLF; a zero size ends it, then trailers up to an empty line.
    for (;;) {
      const eol = this.buf.indexOf('\r\n');
      if (eol < 0) return null;
      const sizeText = this.buf.toString('latin1', 0, eol).split(';')[0].trim();
      if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw new Error(`bad chunk size: ${JSON.stringify(sizeText.slice(0, 20))}`);
      const size = parseInt(sizeText, 16);
      if (size === 0) {
        // "0\r\n" then trailer lines, if any, and an empty line: the first CRLF CRLF from here on.
        const end = this.buf.indexOf('\r\n\r\n', eol);
        if (end < 0) return null;
        return this.answer(Buffer.concat(this.chunks, this.chunkedLength), this.buf.length === end + 4);
      }
      if (this.chunkedLength + size > MAX_ANSWER_BYTES) throw new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`);
      if (this.buf.length < eol + 2 + size + 2) return null;
      if (this.buf[eol + 2 + size] !== 13 || this.buf[eol + 3 + size] !== 10)
        throw new Error('chunk not followed by CRLF');
      this.chunks.push(this.buf.subarray(eol + 2, eol + 2 + size));
      this.chunkedLength += size;
      this.buf = this.buf.subarray(eol + 4 + size);
    }
  }

  /** `clean`: nothing came after the answer (bytes after it mean the connection cannot be trusted). */
  private answer(body: Buffer, clean: boolean): Answer {
    const head = this.head!;
    const connection = (head.headers.get('connection') ?? '').toLowerCase();
    const keepAlive = head.version === '1.1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    const timeout = /\btimeout=(\d+)/i.exec(head.headers.get('keep-alive') ?? '');
    return {
      status: head.status,
      headers: head.headers,
      body,
      reusable: clean && keepAlive && this.framing.kind !== 'close',
      idleTimeoutMs: timeout ? Number(timeout[1]) * 1000 : null,
    };
  }
}

interface Idle {
  socket: net.Socket;
  /** After this instant (ms) the server may close it: not reused. */
  expiresAt: number;
  forget: () => void;
}

/** A failure before any byte of the answer arrived on a reused connection: safe to send again. */
class StaleConnection extends Error {}

export function socketTransport(): Transport {
  const idle = new Map<string, Idle[]>();
  const tls = keepAliveTransport();

  const takeIdle = (key: string): net.Socket | null => {
    const list = idle.get(key);
    while (list && list.length > 0) {
      const c = list.pop()!;
      c.forget();
      if (c.expiresAt > Date.now() && !c.socket.destroyed) return c.socket;
      c.socket.destroy();
    }
    return null;
  };

  const putIdle = (key: string, socket: net.Socket, idleTimeoutMs: number | null) => {
    const list = idle.get(key) ?? [];
    if (list.length >= MAX_IDLE) {
      socket.destroy();
      return;
    }
    idle.set(key, list);
    // A connection the server closes (or breaks) while it sits idle leaves the pool at once.
    const drop = () => {
      entry.forget();
      const i = list.indexOf(entry);
      if (i >= 0) list.splice(i, 1);
      socket.destroy();
    };
    const entry: Idle = {
      socket,
      expiresAt: idleTimeoutMs === null ? Infinity : Date.now() + Math.max(0, idleTimeoutMs - KEEP_ALIVE_MARGIN_MS),
      forget: () => {
        socket.off('close', drop);
        socket.off('end', drop);
        socket.off('error', drop);
        socket.off('data', drop);
      },
    };
    socket.on('close', drop);
    socket.on('end', drop);
    socket.on('error', drop);
    socket.on('data', drop); // nothing is asked: bytes now are a broken server
    socket.unref();
    list.push(entry);
  };

  const once = (
    u: URL,
    key: string,
    init: TransportInit,
    cutoff: Cutoff,
    socket: net.Socket,
    reused: boolean,
  ): Promise<TransportResponse> =>
    new Promise<TransportResponse>((resolve, reject) => {
      const parser = new AnswerParser(init.method);
      let received = 0;
      let settled = false;
      socket.ref();
      const finish = (err: Error | null, a?: Answer) => {
        if (settled) return;
        settled = true;
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.off('close', onEnd);
        socket.off('error', onError);
        if (err) {
          socket.destroy();
          return reject(err);
        }
        if (a!.reusable) putIdle(key, socket, a!.idleTimeoutMs);
        else socket.destroy();
        const body = a!.body.toString('utf8');
        resolve({
          status: a!.status,
          headers: { get: (name) => a!.headers.get(name.toLowerCase()) ?? null },
          text: async () => body,
        });
      };
      const failed = (message: string, cause: unknown) =>
        reused && received === 0 ? new StaleConnection(message, { cause }) : new TransportError(message, cause);
      const onData = (d: Buffer) => {
        received += d.length;
        let a: Answer | null;
        try {
          a = parser.feed(d);
        } catch (err) {
          return finish(new TransportError('malformed answer', err));
        }
        if (a) finish(null, a);
      };
      const onEnd = () => {
        if (received === 0)
          return finish(
            failed(
              'connection closed before an answer',
              Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
            ),
          );
        try {
          finish(null, parser.end());
        } catch (err) {
          finish(new TransportError('response failed', err));
        }
      };
      const onError = (err: Error) => finish(failed('request failed', err));
      socket.on('data', onData);
      socket.on('end', onEnd);
      socket.on('close', onEnd);
      socket.on('error', onError);
      cutoff.listen((err) => finish(err));
      let head = `${init.method} ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\n`;
      for (const [name, value] of Object.entries(init.headers)) {
        if (/^(host|content-length)$/i.test(name)) continue; // set here
        if (/[\r\n]/.test(name) || /[\r\n]/.test(value))
          return finish(new TransportError('request failed', new Error(`header ${name} holds a line break`)));
        head += `${name}: ${value}\r\n`;
      }
      if (init.body !== undefined) head += `Content-Length: ${Buffer.byteLength(init.body)}\r\n`;
      socket.write(init.body === undefined ? `${head}\r\n` : `${head}\r\n${init.body}`);
    });

  const connect = (u: URL, cutoff: Cutoff): Promise<net.Socket> =>
    new Promise((resolve, reject) => {
      const socket = net.connect({
        host: u.hostname.replace(/^\[|\]$/g, ''),
        port: Number(u.port || 80),
        noDelay: true,
      });
      const done = (err: Error | null) => {
        socket.off('connect', onConnect);
        socket.off('error', onError);
        if (err) {
          socket.destroy();
          reject(err);
        } else resolve(socket);
      };
      const onConnect = () => done(null);
      const onError = (err: Error) => done(new TransportError('request failed', err));
      socket.once('connect', onConnect);
      socket.once('error', onError);
      cutoff.listen((err) => done(err));
    });

  return async (url, init) => {
    const u = new URL(url);
    if (u.protocol !== 'http:') return tls(url, init);
    const cutoff = new Cutoff(init.signal, init.timeoutMs);
    try {
      const early = cutoff.early;
      if (early) throw early;
      const key = u.host;
      const reusedSocket = takeIdle(key);
      if (reusedSocket) {
        try {
          return await once(u, key, init, cutoff, reusedSocket, true);
        } catch (err) {
          if (!(err instanceof StaleConnection)) throw err;
        }
      }
      return await once(u, key, init, cutoff, await connect(u, cutoff), false);
    } finally {
      cutoff.dispose();
    }
  };
}
