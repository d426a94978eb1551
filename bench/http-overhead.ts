/**
 * What the HTTP layer costs per request, without SQL: requests per second that 4 keep-alive
 * clients (one child process, node:http) get from
 *   bare   - a node:http handler that reads the body and answers a small JSON,
 *   koa    - a Koa app doing the same,
 *   server - the real server's GET /queue (its full middleware stack; on SQLite the paused flag is
 *            answered from memory, so no SQL runs).
 * Each server is its own process; they take turns, twice, for `seconds` each.
 *
 * Usage: node --import tsx bench/http-overhead.ts [seconds=3]
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { startBenchServer, spawnTs, type Child } from './processes';
import { nextMessage } from './fleet';
import { countArg, scriptArgs } from './cli';

const USAGE = 'node --import tsx bench/http-overhead.ts [seconds=3]';

const mode = process.env.HTTP_OVERHEAD_MODE;

/** Child: serve (bare|koa) on a free port and tell the parent which. */
function serve(kind: string): void {
  const answer = JSON.stringify({ paused: false });
  let handler: http.RequestListener;
  if (kind === 'bare') {
    handler = (req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
        res.end(answer);
      });
    };
  } else {
    const app = new Koa();
    app.use(async (ctx) => {
      ctx.body = { paused: false };
    });
    handler = app.callback();
  }
  const server = http.createServer(handler);
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
  process.on('SIGTERM', () => process.exit(0));
}

/** Child: 4 loops of GET url for ms; reports the count. */
function load(url: string, ms: number): void {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  let n = 0;
  const end = Date.now() + ms;
  const loop = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      http
        .get(url, { agent }, (res) => {
          res.resume();
          res.on('end', () => {
            n++;
            resolve();
          });
        })
        .on('error', reject);
    }).then(() => (Date.now() < end ? loop() : undefined));
  void Promise.all([loop(), loop(), loop(), loop()]).then(() => {
    process.send?.({ count: n });
    setTimeout(() => process.exit(0), 20);
  });
}

async function measure(url: string, seconds: number): Promise<number> {
  const c = spawnTs(
    'bench/http-overhead.ts',
    { HTTP_OVERHEAD_MODE: 'load', URL: url, MS: String(seconds * 1000) },
    { ipc: true },
  );
  const m = await nextMessage(c.proc, 'count', seconds * 1000 + 30_000);
  await c.stop();
  return Number(m.count) / seconds;
}

async function main(): Promise<void> {
  const seconds = countArg(USAGE, 'seconds', scriptArgs(USAGE)[0], 3);
  const kids: Child[] = [];
  const urls: Record<string, string> = {};
  for (const kind of ['bare', 'koa']) {
    const c = spawnTs('bench/http-overhead.ts', { HTTP_OVERHEAD_MODE: kind }, { ipc: true });
    kids.push(c);
    urls[kind] = `http://127.0.0.1:${(await nextMessage(c.proc, 'port')).port}/queue`;
  }
  const server = await startBenchServer();
  urls.server = `${server.url}/queue`;
  try {
    const rates: Record<string, number[]> = { bare: [], koa: [], server: [] };
    for (let round = 0; round < 2; round++) {
      for (const kind of Object.keys(urls)) rates[kind].push(await measure(urls[kind], seconds));
    }
    for (const [kind, r] of Object.entries(rates)) {
      const best = Math.max(...r);
      process.stdout.write(
        `${kind.padEnd(6)} ${Math.round(best).toString().padStart(6)} req/s  (${(1e6 / best).toFixed(0)} us per request; runs: ${r.map(Math.round).join(', ')})\n`,
      );
    }
  } finally {
    await server.stop();
    for (const k of kids) await k.stop();
  }
}

// One file, three roles: the driver, a server (bare|koa), or the load generator.
if (mode === 'bare' || mode === 'koa') serve(mode);
else if (mode === 'load') load(process.env.URL ?? '', Number(process.env.MS ?? 3000));
else void main();
