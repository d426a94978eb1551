/**
 * How the client classifies answers, against a local HTTP responder that can produce what the real
 * server rarely does (503, 429, an HTML page, a hang). The happy paths run against the real server
 * in test/bot-*.test.ts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from '../test/helpers/server-process';
import { ApiClient, ServerBusyError, ServerUnavailableError } from './api-client';

let server: http.Server;
let base: string;
let respond: (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => respond(req, body, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const client = (timeout = 2000) => new ApiClient({ baseUrl: base, requestTimeoutMs: timeout });
const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

test('sends the attempt with start/complete/fail and the waitMs with a claim', async () => {
  const seen: unknown[] = [];
  respond = (req, body, res) => {
    seen.push([req.method, req.url, JSON.parse(body)]);
    json(res, 200, { id: 'j' });
  };
  const c = client();
  await c.start('j 1', 'b', 2);
  await c.complete('j 1', 'b', 2, { x: 1 });
  await c.fail('j 1', 'b', 2, 'no');
  await c.claim('b', 1500);
  await c.claim('b', 0);
  expect(seen).toEqual([
    ['POST', '/jobs/j%201/start', { botId: 'b', attempt: 2 }],
    ['POST', '/jobs/j%201/complete', { botId: 'b', attempt: 2, result: { x: 1 } }],
    ['POST', '/jobs/j%201/fail', { botId: 'b', attempt: 2, error: 'no' }],
    ['POST', '/jobs/claim', { botId: 'b', waitMs: 1500 }],
    ['POST', '/jobs/claim', { botId: 'b' }],
  ]);
});

test('204 is an empty claim; 4xx come back as replies with the error code', async () => {
  respond = (_req, _b, res) => res.writeHead(204).end();
  expect(await client().claim('b', 0)).toEqual({ ok: true, status: 204, body: null });
  respond = (_req, _b, res) => json(res, 409, { error: { code: 'lease_lost', message: 'not running under this bot' } });
  expect(await client().complete('j', 'b', 1, null)).toEqual({
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
    .claim('b', 0)
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ServerBusyError);
  expect(err).not.toBeInstanceOf(ServerUnavailableError);
  expect(err).toMatchObject({ retryAfterMs: 2000, message: expect.stringMatching(/answered 429: slow down/) });
});

test('a hanging server times out as unavailable; a long-poll gets its wait on top of the timeout', async () => {
  respond = (_req, _b, res) => setTimeout(() => res.writeHead(204).end(), 600);
  await expect(client(200).heartbeat('b')).rejects.toThrow(/timed out/);
  expect(await client(200).claim('b', 1000)).toMatchObject({ ok: true, status: 204 });
});

test('no server at all is unavailable, naming the cause', async () => {
  const c = new ApiClient({ baseUrl: `http://127.0.0.1:${await freePort()}`, requestTimeoutMs: 1000 });
  await expect(c.register('b', 'b')).rejects.toThrow(/ECONNREFUSED/);
});

test("the caller's abort is rethrown as its own reason, not as an outage", async () => {
  respond = (_req, _b, res) => setTimeout(() => res.writeHead(204).end(), 2000);
  const ac = new AbortController();
  const p = client().claim('b', 5000, ac.signal);
  const reason = new Error('stopping');
  setTimeout(() => ac.abort(reason), 50);
  await expect(p).rejects.toBe(reason);
});

test('the timeout timer of a request is cleared once the answer is in, not left armed for the whole timeout', async () => {
  // AbortSignal.timeout() kept a 10 s timer (and its closure) per request alive after the answer:
  // at hundreds of requests a second that filled the bot's old generation (docs/performance.md).
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
    await c.complete('j', 'b', 1, null);
    expect(setSpy.mock.calls.filter(([, ms]) => ms === 3000)).toHaveLength(6);
    expect(armed.size).toBe(0);
  } finally {
    setSpy.mockRestore();
    clearSpy.mockRestore();
  }
});
