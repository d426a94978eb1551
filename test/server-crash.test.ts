/**
 * kill -9 of the real server process during a run of 2,000 jobs, twice, restarting on the same files:
 * no acknowledged completion lost, no job vanished, no torn or duplicate datalake line, and a line
 * for every finished attempt.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { ADMIN_TOKEN, BOT_TOKEN, startServer, type ServerProcess, waitFor } from './helpers/server-process';
import { testTime } from './helpers/time';

const JOBS = 2000;
const WORKERS = 8;

jest.setTimeout(testTime(120_000));

test('kill -9 mid-run: nothing acknowledged is lost and the datalake has exactly one line per finished attempt', async () => {
  const sp: ServerProcess = await startServer({ env: { MAX_ATTEMPTS: '5', BOT_DOWN_AFTER_MS: '60000' } });
  const post = async (p: string, body: unknown, admin = false) => {
    const res = await fetch(`${sp.url}${p}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin ? ADMIN_TOKEN : BOT_TOKEN}` },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  };
  for (let i = 0; i < JOBS; i += 500) {
    const r = await post(
      '/jobs',
      { jobs: Array.from({ length: 500 }, (_, k) => ({ type: 'simulated', payload: { n: i + k } })) },
      true,
    );
    expect(r.status).toBe(201);
  }

  const acknowledged = new Map<string, number>(); // jobId → attempt whose completion got a 200
  let stop = false;
  let serverDown = false;
  const worker = async (botId: string) => {
    const retry = async <T>(fn: () => Promise<T>): Promise<T> => {
      for (;;) {
        try {
          return await fn();
        } catch {
          await new Promise((r) => setTimeout(r, 50)); // server down: try again
        }
      }
    };
    await retry(() => post('/bots/register', { id: botId }));
    while (!stop) {
      const c = await retry(() => post('/jobs/claim', { botId }));
      if (c.status === 204) {
        if (!serverDown) return;
        continue;
      }
      if (c.status === 409) {
        // Our claim's answer was lost in a crash: register again, which releases the job we held.
        await retry(() => post('/bots/register', { id: botId }));
        continue;
      }
      if (c.status !== 200) continue;
      const job = c.json;
      const s = await retry(() => post(`/jobs/${job.id}/start`, { botId, attempt: job.attempts }));
      if (s.status !== 200) continue;
      const done = await retry(() =>
        post(`/jobs/${job.id}/complete`, { botId, attempt: job.attempts, result: { n: job.payload.n } }),
      );
      if (done.status === 200) acknowledged.set(job.id, job.attempts);
    }
  };
  const workers = Array.from({ length: WORKERS }, (_, i) => worker(`crash-bot-${i}`));

  for (const at of [500, 1200]) {
    await waitFor(() => acknowledged.size >= at, 60_000, 5);
    serverDown = true;
    await sp.kill();
    await sp.restart();
    serverDown = false;
  }
  await Promise.all(workers);
  stop = true;
  const code = await sp.stop();
  if (code !== 0) console.log(sp.output());
  expect(code).toBe(0);

  const db = new Database(path.join(sp.dir, 'jobs.db'), { readonly: true });
  try {
    expect((db.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check).toBe('ok');
    const byStatus = Object.fromEntries(
      (
        db.prepare('SELECT status, COUNT(*) AS n FROM jobs GROUP BY status').all() as { status: string; n: number }[]
      ).map((r) => [r.status, r.n]),
    );
    expect(byStatus.completed + (byStatus.failed ?? 0)).toBe(JOBS); // none vanished, none left behind
    for (const [jobId, attempt] of acknowledged) {
      const row = db.prepare('SELECT status, attempts FROM jobs WHERE id = ?').get(jobId) as {
        status: string;
        attempts: number;
      };
      expect(row).toEqual({ status: 'completed', attempts: attempt });
    }
    const results = db.prepare('SELECT result_id FROM results').all() as { result_id: string }[];
    expect(db.prepare('SELECT COUNT(*) AS n FROM results WHERE written = 0').get()).toEqual({ n: 0 });

    const lakeDir = path.join(sp.dir, 'datalake');
    const lines: string[] = [];
    for (const f of fs.readdirSync(lakeDir).filter((n) => n.endsWith('.ndjson'))) {
      const text = fs.readFileSync(path.join(lakeDir, f), 'utf8');
      expect(text.endsWith('\n')).toBe(true); // no torn tail
      lines.push(...text.split('\n').filter(Boolean));
    }
    const ids = lines.map((l) => JSON.parse(l).resultId as string);
    expect(new Set(ids).size).toBe(ids.length); // no duplicate
    expect(new Set(ids)).toEqual(new Set(results.map((r) => r.result_id))); // a line per finished attempt
    for (const [jobId, attempt] of acknowledged) expect(ids).toContain(`${jobId}:${attempt}`);
  } finally {
    db.close();
  }
});
