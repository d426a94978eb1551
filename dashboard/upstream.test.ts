import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { jsonRequester, UpstreamHttpError, UpstreamUnreachableError } from './upstream';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A local upstream whose answer each test sets; records what it received and how many connections. */
async function fakeUpstream(answer: (req: Seen, res: http.ServerResponse, socketRequests: number) => void) {
  const seen: Seen[] = [];
  const perSocket = new WeakMap<object, number>();
  let connections = 0;
  const server = http.createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    const s = { method: req.method!, url: req.url!, headers: req.headers, body };
    seen.push(s);
    answer(s, res, n);
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    connections: () => connections,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

describe('jsonRequester', () => {
  let up: Awaited<ReturnType<typeof fakeUpstream>>;
  let reply: (req: Seen, res: http.ServerResponse, socketRequests: number) => void;
  beforeAll(async () => {
    up = await fakeUpstream((req, res, n) => reply(req, res, n));
  });
  afterAll(() => up.close());
  const client = (timeoutMs = 2000) =>
    jsonRequester({
      name: 'server',
      baseUrl: up.url,
      tokens: { viewer: 'viewer-token', admin: 'secret-token' },
      timeoutMs,
    });

  it('GETs JSON with the query and the viewer token (the admin token only when asked)', async () => {
    reply = (_req, res) => json(res, 200, { ok: 'é ✓' });
    const req = client();
    await expect(req('/jobs', { query: { status: 'failed', limit: 5, cursor: '', type: undefined } })).resolves.toEqual(
      { ok: 'é ✓' },
    );
    const s = up.seen.at(-1)!;
    expect(s.method).toBe('GET');
    expect(s.url).toBe('/jobs?status=failed&limit=5');
    expect(s.headers.accept).toBe('application/json');
    expect(s.headers.authorization).toBe('Bearer viewer-token');
  });

  it('sends an admin call with its JSON body and bearer token', async () => {
    reply = (_req, res) => json(res, 200, { paused: true });
    await expect(client()('/queue/pause', { method: 'POST', admin: true, body: { n: 'ü' } })).resolves.toEqual({
      paused: true,
    });
    const s = up.seen.at(-1)!;
    expect(s.method).toBe('POST');
    expect(s.headers.authorization).toBe('Bearer secret-token');
    expect(s.headers['content-type']).toBe('application/json');
    expect(JSON.parse(s.body)).toEqual({ n: 'ü' });
  });

  it('answers null for 204 and an empty body', async () => {
    reply = (_req, res) => {
      res.statusCode = 204;
      res.end();
    };
    await expect(client()('/bots/x', { method: 'DELETE', admin: true })).resolves.toBeNull();
    reply = (_req, res) => res.end();
    await expect(client()('/x')).resolves.toBeNull();
  });

  it("turns an error status into UpstreamHttpError with the upstream's code and message", async () => {
    reply = (_req, res) => json(res, 404, { error: { code: 'not_found', message: 'no job with that id' } });
    const err = await client()('/jobs/x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamHttpError);
    expect(err).toMatchObject({ upstream: 'server', status: 404, code: 'not_found', message: 'no job with that id' });
    reply = (_req, res) => {
      res.statusCode = 500;
      res.end('<html>oops</html>');
    };
    await expect(client()('/x')).rejects.toMatchObject({
      status: 500,
      code: 'upstream_error',
      message: 'server answered 500',
    });
  });

  it('calls an answer that is not JSON unreachable', async () => {
    reply = (_req, res) => res.end('<html>a proxy page</html>');
    await expect(client()('/x')).rejects.toBeInstanceOf(UpstreamUnreachableError);
  });

  it('calls a refused connection unreachable', async () => {
    const closed = await fakeUpstream(() => {});
    await closed.close();
    const req = jsonRequester({
      name: 'controller',
      baseUrl: closed.url,
      tokens: { viewer: 'viewer-token', admin: 'secret-token' },
      timeoutMs: 2000,
    });
    const err = await req('/scale').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamUnreachableError);
    expect(err).toMatchObject({ upstream: 'controller' });
  });

  it('gives up after timeoutMs, whether the headers or the rest of the body are late', async () => {
    reply = () => {}; // never answers
    let t0 = Date.now();
    await expect(client(200)('/x')).rejects.toBeInstanceOf(UpstreamUnreachableError);
    expect(Date.now() - t0).toBeLessThan(1500);
    reply = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"half":'); // and never the rest
    };
    t0 = Date.now();
    await expect(client(200)('/x')).rejects.toBeInstanceOf(UpstreamUnreachableError);
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it('keeps one connection alive across sequential calls', async () => {
    reply = (_req, res) => json(res, 200, { ok: true });
    const req = client();
    const before = up.connections();
    for (let i = 0; i < 5; i++) await req('/healthz');
    expect(up.connections() - before).toBe(1);
  });

  it('sends a GET again on a new connection when the kept one was closed under it', async () => {
    const req = client();
    reply = (_req, res) => json(res, 200, { first: true });
    await req('/a');
    // The upstream drops the kept socket as the next request arrives on it (the keep-alive race).
    reply = (_req, res, n) => (n > 1 ? res.socket!.destroy() : json(res, 200, { second: true }));
    await expect(req('/b')).resolves.toEqual({ second: true });
  });
});
