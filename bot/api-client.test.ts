/**
 * The bot's API client on undici against real servers on loopback: a node:http responder that can
 * produce what the real server rarely does (503, 429, an HTML page, a hang, a chunked answer), and
 * raw net servers where an answer must be shaped by hand. The happy paths run against the real
 * server in test/bot-*.test.ts.
 */
import { spawn } from 'node:child_process';
import events from 'node:events';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { freePort } from '../test/helpers/server-process';
import { testTime } from '../test/helpers/time';
import { ApiClient, ServerBusyError, ServerUnavailableError } from './api-client';

let server: http.Server;
let base: string;
let respond: (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;
const sockets = new Set<net.Socket>();
const timers = new Set<NodeJS.Timeout>();

async function listen(s: http.Server | net.Server): Promise<string> {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(s.address() as net.AddressInfo).port}`;
}
const close = (s: http.Server | net.Server) =>
  new Promise<void>((r) => {
    if (s instanceof http.Server) s.closeAllConnections();
    s.close(() => r());
  });
const later = (ms: number, fn: () => void) => void timers.add(setTimeout(fn, ms));

beforeAll(async () => {
  server = http.createServer((req, res) => {
    sockets.add(req.socket);
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (body += d));
    req.on('end', () => respond(req, body, res));
  });
  base = await listen(server);
});
afterAll(async () => {
  for (const t of timers) clearTimeout(t);
  await close(server);
});

const client = (timeout = 2000, url = base) => new ApiClient({ baseUrl: url, requestTimeoutMs: timeout });
const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

test('POST /jobs/next with a report and waitMs, release with the attempt; UTF-8 both ways; a path prefix in SERVER_URL', async () => {
  const seen: unknown[] = [];
  respond = (req, body, res) => {
    seen.push([req.method, req.url, JSON.parse(body)]);
    json(res, 200, { finished: null, job: { id: 'j', note: 'é' } });
  };
  const c = client();
  expect(await c.next('b', 1500, null)).toEqual({
    ok: true,
    status: 200,
    body: { finished: null, job: { id: 'j', note: 'é' } },
  });
  await c.next('b', 0, { complete: { jobId: 'j 1', attempt: 2, result: { text: 'é' } } });
  await c.next('b', 0, { fail: { jobId: 'j 1', attempt: 2, error: 'x'.repeat(20000) } });
  await c.release('j 1', 'b', 2);
  await client(2000, `${base}/api/`).release('j', 'b', 1);
  expect(seen).toEqual([
    ['POST', '/jobs/next', { botId: 'b', waitMs: 1500 }],
    ['POST', '/jobs/next', { botId: 'b', complete: { jobId: 'j 1', attempt: 2, result: { text: 'é' } } }],
    ['POST', '/jobs/next', { botId: 'b', fail: { jobId: 'j 1', attempt: 2, error: `${'x'.repeat(9999)}…` } }],
    ['POST', '/jobs/j%201/release', { botId: 'b', attempt: 2 }],
    ['POST', '/api/jobs/j/release', { botId: 'b', attempt: 1 }],
  ]);
});

test('204 is an empty answer; 4xx come back as replies with the error code', async () => {
  respond = (_req, _b, res) => res.writeHead(204).end();
  expect(await client().heartbeat('b')).toEqual({ ok: true, status: 204, body: null });
  respond = (_req, _b, res) => json(res, 409, { error: { code: 'lease_lost', message: 'not running under this bot' } });
  expect(await client().release('j', 'b', 1)).toEqual({
    ok: false,
    status: 409,
    code: 'lease_lost',
    message: 'not running under this bot',
  });
});

test.each([
  [
    '503',
    (res: http.ServerResponse) => json(res, 503, { error: { code: 'unavailable', message: 'db down' } }),
    /answered 503: db down/,
  ],
  [
    'an HTML page',
    (res: http.ServerResponse) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>proxy</html>'),
    /not JSON/,
  ],
])('%s means "try again later" (ServerUnavailableError)', async (_name, reply, message) => {
  respond = (_req, _b, res) => reply(res);
  await expect(client().heartbeat('b')).rejects.toThrow(ServerUnavailableError);
  await expect(client().heartbeat('b')).rejects.toThrow(message);
});

test('429 is "slow down" (ServerBusyError) with the Retry-After in ms, not an outage', async () => {
  respond = (_req, _b, res) => {
    res.setHeader('Retry-After', '2');
    json(res, 429, { error: { code: 'rate_limited', message: 'slow down' } });
  };
  const err = await client()
    .next('b', 0, null)
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ServerBusyError);
  expect(err).not.toBeInstanceOf(ServerUnavailableError);
  expect(err).toMatchObject({ retryAfterMs: 2000, message: expect.stringMatching(/answered 429: slow down/) });
});

// Undici checks its time limits on a coarse clock (about half a second), so the hangs here are long.
test('a hanging server times out as unavailable; a long-poll gets its wait on top of the time limit', async () => {
  respond = (_req, _b, res) => later(2500, () => json(res, 200, { finished: null, job: null }));
  const t0 = Date.now();
  await expect(client(200).heartbeat('b')).rejects.toThrow(/timed out/);
  expect(Date.now() - t0).toBeLessThan(testTime(2000));
  expect(await client(200).next('b', 3000, null)).toMatchObject({ ok: true, status: 200 });
});

test('the time limit holds after the answer began: a body that stops coming times out', async () => {
  respond = (_req, _b, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"half":');
    later(4000, () => res.end('1}'));
  };
  const t0 = Date.now();
  await expect(client(200).heartbeat('b')).rejects.toThrow(/timed out/);
  expect(Date.now() - t0).toBeLessThan(testTime(2500));
});

test('a chunked answer arriving in pieces, split inside characters', async () => {
  respond = (_req, body, res) => {
    const bytes = Buffer.from(JSON.stringify({ text: 'é'.repeat(5000), body: JSON.parse(body) }));
    let at = 0;
    const step = () => {
      if (at >= bytes.length) return void res.end();
      res.write(bytes.subarray(at, at + 777));
      at += 777;
      setImmediate(step);
    };
    step();
  };
  expect(await client().heartbeat('b')).toEqual({
    ok: true,
    status: 200,
    body: { text: 'é'.repeat(5000), body: { botId: 'b' } },
  });
});

test('keep-alive: requests one after another reuse their connections; after Connection: close the next request still goes', async () => {
  let closing = false;
  respond = (_req, _b, res) => {
    if (closing) res.setHeader('connection', 'close');
    json(res, 200, {});
  };
  const c = client();
  const before = sockets.size;
  for (let i = 0; i < 20; i++) await c.heartbeat('b');
  // The pool may open a second connection while the first one finishes its answer; never one each.
  expect(sockets.size - before).toBeLessThanOrEqual(2);
  closing = true;
  for (let i = 0; i < 3; i++) expect(await c.heartbeat('b')).toMatchObject({ ok: true, status: 200 });
});

test('a connection the server closed while idle (its keep-alive timeout) is not used: the next request gets a new one', async () => {
  const quick = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('{"ok":true}'));
  });
  quick.keepAliveTimeout = 150;
  const url = await listen(quick);
  try {
    const c = client(2000, url);
    expect(await c.heartbeat('b')).toMatchObject({ ok: true });
    await new Promise((r) => setTimeout(r, 400));
    expect(await c.heartbeat('b')).toEqual({ ok: true, status: 200, body: { ok: true } });
  } finally {
    await close(quick);
  }
});

test('no server at all is unavailable, naming the cause', async () => {
  const err = await client(1000, `http://127.0.0.1:${await freePort()}`)
    .register('b', 'b')
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ServerUnavailableError);
  expect(String((err as Error).message)).toMatch(/ECONNREFUSED/);
});

/** A raw server: `answer(socket)` for each request, written by hand. */
async function rawServer(
  answer: (socket: net.Socket) => void,
): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const open = new Set<net.Socket>();
  const s = net.createServer((socket) => {
    open.add(socket);
    socket.on('error', () => undefined);
    socket.on('data', (d) => {
      if (d.includes('\r\n\r\n')) {
        requests++;
        answer(socket);
      }
    });
  });
  const url = await listen(s);
  return {
    url,
    requests: () => requests,
    close: () => {
      for (const x of open) x.destroy();
      return close(s);
    },
  };
}

test('a connection closed without an answer is unavailable, and the request is not sent again on its own', async () => {
  const raw = await rawServer((socket) => socket.destroy());
  try {
    const err = await client(2000, raw.url)
      .heartbeat('b')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerUnavailableError);
    expect(String((err as Error).message)).toMatch(/failed: .*closed|ECONNRESET|UND_ERR_SOCKET/);
    expect(raw.requests()).toBe(1);
  } finally {
    await raw.close();
  }
});

test('a malformed answer is unavailable (not our server)', async () => {
  const raw = await rawServer((socket) => socket.write('SMTP ready\r\n\r\n'));
  try {
    await expect(client(2000, raw.url).heartbeat('b')).rejects.toThrow(ServerUnavailableError);
  } finally {
    await raw.close();
  }
});

test("the caller's abort is rethrown as its own reason at once, not as an outage", async () => {
  respond = (_req, _b, res) => later(2000, () => json(res, 200, {}));
  const ac = new AbortController();
  const t0 = Date.now();
  const p = client().next('b', 5000, null, ac.signal);
  const reason = new Error('stopping');
  setTimeout(() => ac.abort(reason), 50);
  await expect(p).rejects.toBe(reason);
  expect(Date.now() - t0).toBeLessThan(testTime(1000));
  // An already aborted signal: nothing is sent.
  await expect(client().next('b', 5000, null, ac.signal)).rejects.toBe(reason);
});

test('a long-lived signal used for many requests keeps no listener per request', async () => {
  // The runner passes its one stop signal with every idle long-poll of its life.
  respond = (_req, _b, res) => json(res, 200, { finished: null, job: null });
  const stop = new AbortController();
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    const c = client();
    for (let i = 0; i < 50; i++) await c.next('b', 0, null, stop.signal);
    await new Promise((r) => setImmediate(r));
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    // Node counts an AbortSignal's listeners through events.getEventListeners.
    expect(events.getEventListeners(stop.signal, 'abort')).toHaveLength(0);
  } finally {
    process.off('warning', onWarning);
  }
});

test("idle kept-alive connections and a finished request's time limit do not keep a process alive", async () => {
  const idle = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('{}'));
  });
  idle.keepAliveTimeout = 600_000; // the connection stays open until the child ends it
  const url = await listen(idle);
  try {
    const script = `const { ApiClient } = require(${JSON.stringify(path.join(__dirname, 'api-client.ts'))});
      new ApiClient({ baseUrl: ${JSON.stringify(url)}, requestTimeoutMs: 600000 })
        .heartbeat('b').then((r) => console.log(r.status));`;
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
    await close(idle);
  }
});
