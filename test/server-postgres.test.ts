/**
 * Several real server processes on one real PostgreSQL database: one scheduler batch per period,
 * each job claimed once across servers, one datalake writer; and a database that goes away gives
 * 503 JSON, then recovers.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { describePostgres, dropSchema, freshSchemaUrl, PG_BASE_URL } from './helpers/postgres';
import { ADMIN_TOKEN, BOT_TOKEN, startServer, tempDir, waitFor, type ServerProcess } from './helpers/server-process';
import { testTime } from './helpers/time';

jest.setTimeout(testTime(60_000));

const post = async (base: string, p: string, body: unknown, admin = false) => {
  const res = await fetch(`${base}${p}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${admin ? ADMIN_TOKEN : BOT_TOKEN}` },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
};

async function query<T>(schema: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: PG_BASE_URL });
  await c.connect();
  try {
    await c.query(`SET search_path TO ${schema}`);
    return (await c.query(sql)).rows as T[];
  } finally {
    await c.end();
  }
}

describePostgres('two servers on one PostgreSQL database', () => {
  const servers: ServerProcess[] = [];
  let schema: string;
  let lake: string;

  beforeAll(async () => {
    const fresh = freshSchemaUrl('two');
    schema = fresh.schema;
    lake = path.join(tempDir('two-lake-'), 'datalake');
    const env = {
      DATABASE_URL: fresh.url,
      DATALAKE_DIR: lake,
      POPULATE_INTERVAL_MS: '1000',
      BATCH_SIZE: '3',
      MAX_ATTEMPTS: '1',
    };
    servers.push(await startServer({ env }));
    servers.push(await startServer({ env }));
  });
  afterAll(async () => {
    for (const s of servers) await s.stop();
    await dropSchema(schema);
  });

  test('exactly one scheduler batch per period across both servers', async () => {
    const periods = () =>
      query<{ period: string; n: string }>(
        schema,
        `SELECT floor(created_at / 1000) AS period, COUNT(*) AS n FROM jobs WHERE type = 'simulated' GROUP BY 1 ORDER BY 1`,
      );
    // At least three periods, however slowly a loaded machine runs the two schedulers.
    await waitFor(async () => (await periods()).length >= 3, 15_000);
    const rows = await periods();
    for (const r of rows) expect(Number(r.n)).toBe(3);
  });

  test('20 bots on two servers claim 500 jobs: each exactly once; one datalake line per result', async () => {
    await post(servers[0].url, '/jobs', { jobs: Array.from({ length: 500 }, () => ({ type: 'bulk' })) }, true);
    const seen = new Map<string, string>();
    const dup: string[] = [];
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const base = servers[i % 2].url;
        const botId = `pg-bot-${i}`;
        await post(base, '/bots/register', { id: botId });
        for (;;) {
          const c = await post(base, '/jobs/claim', { botId });
          if (c.status === 204) return;
          expect(c.status).toBe(200);
          if (seen.has(c.json.id)) dup.push(c.json.id);
          seen.set(c.json.id, botId);
          const done = await post(base, `/jobs/${c.json.id}/complete`, { botId, attempt: c.json.attempts });
          expect(done.status).toBe(200);
        }
      }),
    );
    expect(dup).toEqual([]);
    const bulkDone = [...seen.keys()].length;
    expect(bulkDone).toBeGreaterThanOrEqual(500);
    await waitFor(
      async () =>
        (await query<{ n: string }>(schema, 'SELECT COUNT(*) AS n FROM results WHERE written = 0'))[0].n === '0',
      15_000,
      100,
    );
    const lines = fs
      .readdirSync(lake)
      .filter((f) => f.endsWith('.ndjson'))
      .flatMap((f) => fs.readFileSync(path.join(lake, f), 'utf8').split('\n').filter(Boolean));
    const ids = lines.map((l) => JSON.parse(l).resultId);
    expect(new Set(ids).size).toBe(ids.length);
    const total = Number((await query<{ n: string }>(schema, 'SELECT COUNT(*) AS n FROM results'))[0].n);
    expect(ids.length).toBe(total);
  });
});

/** A TCP proxy in front of PostgreSQL that the test can cut and restore. */
function startProxy(target: { host: string; port: number }) {
  const sockets = new Set<net.Socket>();
  let accepting = true;
  const server = net.createServer((client) => {
    if (!accepting) return client.destroy();
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  return {
    listen: () =>
      new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as net.AddressInfo).port))),
    cut() {
      accepting = false;
      for (const s of sockets) s.destroy();
    },
    restore() {
      accepting = true;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describePostgres('PostgreSQL going away', () => {
  test('503 JSON while the database is unreachable, recovered within 10 s after it is back', async () => {
    const base = new URL(PG_BASE_URL);
    const proxy = startProxy({ host: base.hostname, port: Number(base.port || 5432) });
    const port = await proxy.listen();
    const { schema } = freshSchemaUrl('gone');
    const url = `postgres://${base.username}@127.0.0.1:${port}${base.pathname}?schema=${schema}`;
    const sp = await startServer({ env: { DATABASE_URL: url } });
    try {
      expect((await post(sp.url, '/bots/register', { id: 'b' })).status).toBe(201);
      proxy.cut();
      const during = await post(sp.url, '/bots/register', { id: 'b2' });
      expect(during.status).toBe(503);
      expect(during.json.error.code).toBe('unavailable');
      expect((await fetch(`${sp.url}/healthz`)).status).toBe(503);
      proxy.restore();
      const back = Date.now();
      await waitFor(async () => (await post(sp.url, '/bots/register', { id: 'b3' })).status === 201, 10_000, 200);
      expect(Date.now() - back).toBeLessThan(10_000);
      expect((await fetch(`${sp.url}/healthz`)).status).toBe(200);
    } finally {
      await sp.stop();
      await proxy.close();
      await dropSchema(schema);
    }
  });
});
