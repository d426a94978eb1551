import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BOT_TOKEN } from '../test/helpers/server-process';
import { ApiClient, ServerUnavailableError } from './api-client';
import { keepAliveTransport, TransportError } from './http-transport';

let server: http.Server;
let base: string;
const sockets = new Set<unknown>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    sockets.add(req.socket);
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.url === '/slow') return setTimeout(() => res.end('{}'), 2000);
      res.setHeader('content-type', 'application/json');
      res.setHeader('retry-after', '3');
      res.end(JSON.stringify({ method: req.method, body, length: req.headers['content-length'] ?? null }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

test('status, headers and body; keep-alive reuses one connection', async () => {
  const send = keepAliveTransport();
  const a = await send(`${base}/x`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"é":1}',
    signal: AbortSignal.timeout(1000),
  });
  expect(a.status).toBe(200);
  expect(a.headers.get('Retry-After')).toBe('3');
  expect(JSON.parse(await a.text())).toEqual({
    method: 'POST',
    body: '{"é":1}',
    length: String(Buffer.byteLength('{"é":1}')),
  });
  const before = sockets.size;
  await send(`${base}/y`, { method: 'GET', headers: {}, signal: AbortSignal.timeout(1000) });
  expect(sockets.size).toBe(before);
});

test('an abort rejects at once; a refused connection names its code through the API client', async () => {
  const send = keepAliveTransport();
  const t0 = Date.now();
  await expect(send(`${base}/slow`, { method: 'GET', headers: {}, signal: AbortSignal.timeout(100) })).rejects.toThrow(
    /aborted/,
  );
  expect(Date.now() - t0).toBeLessThan(1000);
  const api = new ApiClient({ baseUrl: 'http://127.0.0.1:1', requestTimeoutMs: 1000, token: BOT_TOKEN });
  const err = await api.heartbeat('b').catch((e) => e);
  expect(err).toBeInstanceOf(ServerUnavailableError);
  expect(String(err.message)).toMatch(/ECONNREFUSED/);
});

test('the time limit rejects with timedOut, after the answer began as well; a request that ends in time leaves no timer', async () => {
  const send = keepAliveTransport();
  const t0 = Date.now();
  const err = await send(`${base}/slow`, { method: 'GET', headers: {}, timeoutMs: 100 }).catch((e) => e);
  expect(err).toBeInstanceOf(TransportError);
  expect(err.timedOut).toBe(true);
  expect(Date.now() - t0).toBeLessThan(1000);
  const ok = await send(`${base}/x`, { method: 'GET', headers: {}, timeoutMs: 60_000 });
  expect(ok.status).toBe(200);
});
