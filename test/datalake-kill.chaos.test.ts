/**
 * Chaos: bots finish jobs as fast as they can while the real server is killed with SIGKILL at random
 * moments and restarted. Whatever the moment (mid-append, between append and markWritten, mid-repair),
 * the datalake must end with exactly one line for every result row in the database, and nothing else.
 * Run with `npm run test:chaos -- test/datalake-kill` (DATALAKE_CHAOS_ROUNDS, default 8).
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ResultLine } from '../core/types';
import { ADMIN_TOKEN, BOT_TOKEN, startServer, type ServerProcess } from './helpers/server-process';
import { testTime } from './helpers/time';

const ROUNDS = Number(process.env.DATALAKE_CHAOS_ROUNDS ?? 8);
const BOTS = 4;

let srv: ServerProcess;
afterAll(async () => {
  await srv?.kill();
  if (srv) fs.rmSync(srv.dir, { recursive: true, force: true });
});

async function post(route: string, body: unknown, admin = false): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  headers.authorization = `Bearer ${admin ? ADMIN_TOKEN : BOT_TOKEN}`;
  return fetch(`${srv.url}${route}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(testTime(5000)),
  });
}

/** One bot: claim, start, complete or fail, until told to stop; every error (the server died) is ignored. */
async function botLoop(botId: string, stop: () => boolean): Promise<void> {
  let n = 0;
  while (!stop()) {
    try {
      await post('/bots/register', { id: botId });
      const claim = await post('/jobs/claim', { botId });
      if (claim.status !== 200) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      const job = (await claim.json()) as { id: string; attempts: number };
      await post(`/jobs/${job.id}/start`, { botId, attempt: job.attempts });
      if (++n % 5 === 0) await post(`/jobs/${job.id}/fail`, { botId, attempt: job.attempts, error: 'chaos' });
      else await post(`/jobs/${job.id}/complete`, { botId, attempt: job.attempts, result: { n } });
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

it(`exactly one line per result across ${ROUNDS} SIGKILLs`, async () => {
  srv = await startServer({ env: { MAX_ATTEMPTS: '3', BOT_DOWN_AFTER_MS: '1000', SWEEP_INTERVAL_MS: '200' } });
  expect((await post('/jobs/populate', { count: 1000 }, true)).status).toBe(201);
  for (let round = 0; round < ROUNDS; round++) {
    let stopping = false;
    const bots = Array.from({ length: BOTS }, (_, i) => botLoop(`chaos-bot-${i}`, () => stopping));
    await new Promise((r) => setTimeout(r, 150 + Math.random() * 600));
    await srv.kill();
    stopping = true;
    await Promise.all(bots);
    await srv.restart();
  }
  expect(await srv.stop()).toBe(0); // SIGTERM flushes what is left

  const db = new Database(path.join(srv.dir, 'jobs.db'), { readonly: true });
  const rows = db.prepare('SELECT result_id AS id, day, written FROM results').all() as {
    id: string;
    day: string;
    written: number;
  }[];
  db.close();
  expect(rows.length).toBeGreaterThan(ROUNDS); // the bots got work done between kills
  expect(rows.filter((r) => r.written !== 1)).toEqual([]);

  const dir = path.join(srv.dir, 'datalake');
  const seen = new Map<string, string>();
  for (const name of fs.readdirSync(dir).filter((n) => /^results-\d{4}-\d{2}-\d{2}\.ndjson$/.test(n))) {
    const text = fs.readFileSync(path.join(dir, name), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    for (const raw of text.split('\n').filter(Boolean)) {
      const line = JSON.parse(raw) as ResultLine;
      expect(seen.has(line.resultId)).toBe(false);
      seen.set(line.resultId, name.slice(8, 18));
    }
  }
  process.stderr.write(
    `chaos: ${rows.length} results; repairs: ${(srv.output().match(/datalake repaired/g) ?? []).length}\n`,
  );
  expect(seen.size).toBe(rows.length);
  for (const r of rows) expect(seen.get(r.id)).toBe(r.day);
});
