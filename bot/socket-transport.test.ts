/**
 * The bot's socket transport against real servers on loopback: node:http servers (as the bot's
 * server is one) and raw net servers where an answer must be shaped by hand (framed by the close,
 * 1xx first, a connection dropped without an answer).
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { ApiClient, ServerUnavailableError } from './api-client';
import { AnswerParser, socketTransport } from './socket-transport';
import { TransportError } from './http-transport';
import { testTime } from '../test/helpers/time';
import { BOT_TOKEN } from '../test/helpers/server-process';

const signal = () => AbortSignal.timeout(testTime(2000));
const post = (body: string) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body,
  signal: signal(),
});

async function listen(server: http.Server | net.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}
const close = (server: http.Server | net.Server) =>
  new Promise<void>((r) => {
    if (server instanceof http.Server) server.closeAllConnections();
    server.close(() => r());
  });

/** A raw server: `answer(request text, connection number, request number on it)` writes what it likes. */
function rawServer(
  answer: (socket: net.Socket, req: string, conn: number, n: number) => void,
): net.Server & { connections: () => number } {
  let conns = 0;
  const open = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const conn = ++conns;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    let n = 0;
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        const req = buf.slice(0, end + 4 + len);
        buf = buf.slice(end + 4 + len);
        answer(socket, req, conn, ++n);
      }
    });
    socket.on('error', () => undefined);
  });
  const origClose = server.close.bind(server);
  return Object.assign(server, {
    connections: () => conns,
    close: (cb?: (err?: Error) => void) => {
      for (const s of open) s.destroy();
      return origClose(cb);
    },
  });
}

describe('against node:http', () => {
  let server: http.Server;
  let base: string;
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      sockets.add(req.socket);
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        if (req.url === '/slow') return void timers.add(setTimeout(() => res.end('{}'), 3000));
        if (req.url === '/chunked') {
          // No length: node:http sends it chunked. In pieces, some split mid-character.
          const text = JSON.stringify({ text: 'é'.repeat(5000), body });
          const bytes = Buffer.from(text);
          let at = 0;
          const step = () => {
            if (at >= bytes.length) return void res.end();
            res.write(bytes.subarray(at, at + 777));
            at += 777;
            setImmediate(step);
          };
          return step();
        }
        if (req.url === '/close') res.setHeader('connection', 'close');
        if (req.url === '/empty') {
          res.statusCode = 204;
          return void res.end();
        }
        res.setHeader('content-type', 'application/json');
        res.setHeader('retry-after', '3');
        res.setHeader('x-twice', ['a', 'b']);
        res.end(
          JSON.stringify({
            method: req.method,
            url: req.url,
            body,
            length: req.headers['content-length'] ?? null,
            host: req.headers.host,
          }),
        );
      });
    });
    base = await listen(server);
  });
  afterAll(() => {
    for (const t of timers) clearTimeout(t);
    return close(server);
  });

  test('status, headers and a UTF-8 body; keep-alive reuses one connection; the path and query go as given', async () => {
    const send = socketTransport();
    const a = await send(`${base}/x?y=1`, post('{"é":1}'));
    expect(a.status).toBe(200);
    expect(a.headers.get('Retry-After')).toBe('3');
    expect(a.headers.get('x-twice')).toBe('a, b');
    expect(a.headers.get('nope')).toBeNull();
    expect(JSON.parse(await a.text())).toEqual({
      method: 'POST',
      url: '/x?y=1',
      body: '{"é":1}',
      length: String(Buffer.byteLength('{"é":1}')),
      host: base.slice(7),
    });
    const before = sockets.size;
    for (let i = 0; i < 5; i++) {
      const r = await send(`${base}/y`, { method: 'GET', headers: {}, signal: signal() });
      expect(JSON.parse(await r.text())).toMatchObject({ method: 'GET', length: null });
    }
    expect(sockets.size).toBe(before);
  });

  test('a chunked answer arriving in pieces, split inside characters', async () => {
    const r = await socketTransport()(`${base}/chunked`, post('{"a":2}'));
    expect(r.status).toBe(200);
    expect(JSON.parse(await r.text())).toEqual({ text: 'é'.repeat(5000), body: '{"a":2}' });
  });

  test('204 has no body; Connection: close is honoured with a new connection next time', async () => {
    const send = socketTransport();
    const e = await send(`${base}/empty`, post('{}'));
    expect(e.status).toBe(204);
    expect(await e.text()).toBe('');
    const before = sockets.size;
    await send(`${base}/close`, post('{}'));
    await send(`${base}/x`, post('{}'));
    expect(sockets.size).toBe(before + 1); // the /close connection was not reused
  });

  test('an abort rejects at once and the connection is not reused', async () => {
    const send = socketTransport();
    const t0 = Date.now();
    await expect(
      send(`${base}/slow`, { method: 'GET', headers: {}, signal: AbortSignal.timeout(100) }),
    ).rejects.toThrow(/aborted/);
    expect(Date.now() - t0).toBeLessThan(testTime(1000));
    const before = sockets.size;
    expect((await send(`${base}/x`, post('{}'))).status).toBe(200);
    expect(sockets.size).toBe(before + 1);
  });

  test('the time limit rejects with timedOut and the connection is not reused; an answer in time leaves nothing armed', async () => {
    const send = socketTransport();
    const t0 = Date.now();
    const err = await send(`${base}/slow`, { method: 'GET', headers: {}, timeoutMs: 100 }).catch((e) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect(err.timedOut).toBe(true);
    expect(Date.now() - t0).toBeLessThan(testTime(1000));
    const before = sockets.size;
    expect((await send(`${base}/x`, { ...post('{}'), timeoutMs: 60_000 })).status).toBe(200);
    expect(sockets.size).toBe(before + 1);
  });

  test('a header value with a line break is refused before anything is sent', async () => {
    const send = socketTransport();
    await expect(
      send(`${base}/x`, { method: 'GET', headers: { 'x-a': 'b\r\nx-evil: 1' }, signal: signal() }),
    ).rejects.toThrow(/request failed/);
  });

  test('a connection the server closed while idle (its keep-alive timeout) is not used: the next request gets a new one', async () => {
    const quick = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('{"ok":true}'));
    });
    quick.keepAliveTimeout = 150;
    const url = await listen(quick);
    try {
      const send = socketTransport();
      expect((await send(`${url}/a`, post('{}'))).status).toBe(200);
      await new Promise((r) => setTimeout(r, 400));
      const r = await send(`${url}/b`, post('{}'));
      expect(r.status).toBe(200);
      expect(await r.text()).toBe('{"ok":true}');
    } finally {
      await close(quick);
    }
  });
});

describe('against a raw server', () => {
  test('the server closing a reused connection without answering: sent once more on a new connection', async () => {
    const server = rawServer((socket, _req, conn, n) => {
      if (conn === 1 && n === 2) return void socket.destroy(); // the keep-alive race: it closed as the request came
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n${conn}${n}`);
    });
    const url = await listen(server);
    try {
      const send = socketTransport();
      expect(await (await send(`${url}/a`, post('{}'))).text()).toBe('11');
      expect(await (await send(`${url}/b`, post('{}'))).text()).toBe('21');
      expect(server.connections()).toBe(2);
    } finally {
      await close(server);
    }
  });

  test('a new connection closed without an answer is an error (ECONNRESET), not sent again', async () => {
    let requests = 0;
    const server = rawServer((socket) => {
      requests++;
      socket.destroy();
    });
    const url = await listen(server);
    try {
      const err = await new ApiClient({ baseUrl: url, requestTimeoutMs: testTime(2000), token: BOT_TOKEN })
        .heartbeat('b')
        .catch((e) => e);
      expect(err).toBeInstanceOf(ServerUnavailableError);
      expect(String(err.message)).toMatch(/ECONNRESET/);
      expect(requests).toBe(1);
    } finally {
      await close(server);
    }
  });

  test('an answer framed by the close of the connection; 1xx answers before it are skipped', async () => {
    const server = rawServer((socket) => {
      socket.write('HTTP/1.1 100 Continue\r\n\r\n');
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"framed":');
      setTimeout(() => socket.end('"by close"}'), 20);
    });
    const url = await listen(server);
    try {
      const r = await socketTransport()(`${url}/x`, post('{}'));
      expect(r.status).toBe(200);
      expect(JSON.parse(await r.text())).toEqual({ framed: 'by close' });
    } finally {
      await close(server);
    }
  });

  test("Keep-Alive: timeout=1 is honoured (the connection is not reused within a second of the server's close); timeout=5 is reused", async () => {
    const server = rawServer((socket, req) => {
      const t = /\/t(\d)/.exec(req)![1];
      socket.write(`HTTP/1.1 200 OK\r\nKeep-Alive: timeout=${t}\r\nContent-Length: 2\r\n\r\nok`);
    });
    const url = await listen(server);
    try {
      const send = socketTransport();
      await send(`${url}/t1`, post('{}'));
      await send(`${url}/t5`, post('{}'));
      expect(server.connections()).toBe(2); // timeout=1 less the 1 s margin: expired at once
      await send(`${url}/t5`, post('{}'));
      expect(server.connections()).toBe(2);
    } finally {
      await close(server);
    }
  });

  test('a malformed answer is an error the API client treats as the server being away', async () => {
    const server = rawServer((socket) => socket.write('SMTP ready\r\n\r\n'));
    const url = await listen(server);
    try {
      const err = await new ApiClient({ baseUrl: url, requestTimeoutMs: testTime(2000), token: BOT_TOKEN })
        .heartbeat('b')
        .catch((e) => e);
      expect(err).toBeInstanceOf(ServerUnavailableError);
      expect(String(err.message)).toMatch(/malformed answer/);
    } finally {
      await close(server);
    }
  });
});

test('a refused connection names its code through the API client', async () => {
  const err = await new ApiClient({ baseUrl: 'http://127.0.0.1:1', requestTimeoutMs: 1000, token: BOT_TOKEN })
    .heartbeat('b')
    .catch((e) => e);
  expect(err).toBeInstanceOf(ServerUnavailableError);
  expect(String(err.message)).toMatch(/ECONNREFUSED/);
});

describe('AnswerParser', () => {
  const feedBytes = (p: AnswerParser, text: string) => {
    let out = null;
    for (const b of Buffer.from(text)) {
      expect(out).toBeNull(); // nothing complete before the last byte
      out = p.feed(Buffer.from([b]));
    }
    return out;
  };

  test('chunked with extensions and trailers, fed a byte at a time', () => {
    const a = feedBytes(
      new AnswerParser('POST'),
      'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n',
    );
    expect(a).toMatchObject({ status: 201, reusable: true });
    expect(a!.body.toString()).toBe('abcde');
  });

  test('HTTP/1.0 is not kept alive unless it says so; bytes after the answer make the connection unusable', () => {
    expect(new AnswerParser('GET').feed(Buffer.from('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n'))).toMatchObject({
      reusable: false,
    });
    expect(
      new AnswerParser('GET').feed(
        Buffer.from('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n'),
      ),
    ).toMatchObject({ reusable: true });
    expect(new AnswerParser('GET').feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab'))).toMatchObject({
      reusable: false,
    });
  });

  test('a HEAD answer has no body whatever its Content-Length; bytes after a bodiless answer make the connection unusable', () => {
    expect(new AnswerParser('HEAD').feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n'))).toMatchObject({
      status: 200,
      reusable: true,
    });
    expect(new AnswerParser('GET').feed(Buffer.from('HTTP/1.1 204 No Content\r\n\r\nxx'))).toMatchObject({
      status: 204,
      reusable: false,
    });
  });

  test.each([
    ['a bad status line', 'HTTP/2 200 OK\r\n\r\n'],
    ['a bad content-length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'],
    ['a bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
    ['a header line without a colon', 'HTTP/1.1 200 OK\r\nbroken\r\n\r\n'],
  ])('%s is refused', (_what, text) => {
    expect(() => new AnswerParser('GET').feed(Buffer.from(text))).toThrow();
  });

  test('a close before the whole answer is an error; a close-framed answer completes', () => {
    const p = new AnswerParser('GET');
    expect(p.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab'))).toBeNull();
    expect(() => p.end()).toThrow(/before the whole answer/);
    const q = new AnswerParser('GET');
    expect(q.feed(Buffer.from('HTTP/1.1 200 OK\r\n\r\nab'))).toBeNull();
    expect(q.end()).toMatchObject({ status: 200, reusable: false });
  });
});

test("idle kept-alive connections and a finished request's time limit do not keep a process alive", async () => {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('{}'));
  });
  server.keepAliveTimeout = 600_000; // the connection stays open until the child ends it
  const url = await listen(server);
  try {
    const script = `const { socketTransport } = require(${JSON.stringify(path.join(__dirname, 'socket-transport.ts'))});
      socketTransport()(${JSON.stringify(`${url}/x`)}, { method: 'GET', headers: {}, signal: new AbortController().signal, timeoutMs: 600000 }).then((r) => console.log(r.status));`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--eval', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(-1);
      }, testTime(5000));
      child.on('exit', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    expect(out.trim()).toBe('200');
    expect(code).toBe(0); // -1: still running, with the connection idle in its pool or the 10-minute timer armed
  } finally {
    await close(server);
  }
});
