/**
 * How the client speaks the bot's routes and classifies answers, against a local HTTP responder
 * that can produce what the real server rarely does (503, 429, an HTML page, a hang). The transport
 * itself (framing, keep-alive, idle connections) is tested in socket-transport.test.ts; the happy
 * paths run against the real server in test/bot-*.test.ts.
 */
import events from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { BOT_TOKEN, freePort } from '../test/helpers/server-process';
import { testTime } from '../test/helpers/time';
import { ApiClient, ServerBusyError, ServerUnavailableError } from './api-client';

let server: http.Server;
let base: string;
let respond: (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;
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

const client = (timeout = 2000, url = base) =>
  new ApiClient({ baseUrl: url, requestTimeoutMs: timeout, token: BOT_TOKEN });
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

test('no server at all is unavailable, naming the cause', async () => {
  const err = await client(1000, `http://127.0.0.1:${await freePort()}`)
    .register('b', 'b')
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ServerUnavailableError);
  expect(String((err as Error).message)).toMatch(/ECONNREFUSED/);
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

test('the time limit of a request is cleared once the answer is in, not left armed for the whole limit', async () => {
  // AbortSignal.timeout() kept a timer (and its closure) per request alive after the answer: at
  // hundreds of requests a second that filled the bot's old generation.
  respond = (_req, _b, res) => json(res, 200, { id: 'j' });
  const armed = new Set<unknown>();
  const realSet = global.setTimeout;
  const realClear = global.clearTimeout;
  const setSpy = jest.spyOn(global, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
    const t = realSet(fn, ms);
    if (ms === 3000) armed.add(t);
    return t;
  }) as typeof setTimeout);
  const clearSpy = jest.spyOn(global, 'clearTimeout').mockImplementation(((t?: NodeJS.Timeout) => {
    armed.delete(t);
    realClear(t);
  }) as typeof clearTimeout);
  try {
    const c = client(3000);
    for (let i = 0; i < 5; i++) await c.heartbeat('b');
    respond = (_req, _b, res) => json(res, 409, { error: { code: 'lease_lost', message: 'no' } });
    await c.release('j', 'b', 1);
    expect(setSpy.mock.calls.filter(([, ms]) => ms === 3000)).toHaveLength(6);
    expect(armed.size).toBe(0);
  } finally {
    setSpy.mockRestore();
    clearSpy.mockRestore();
  }
});
