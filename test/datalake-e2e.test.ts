/**
 * The datalake through the real server process: finished attempts become exactly one NDJSON line
 * each, the stats and export routes read them, and a server killed with SIGKILL and restarted over
 * a damaged partition (torn tail, duplicate, lines appended but never marked) still ends with exactly
 * one line per result.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ResultLine } from '../core/types';
import {
  ADMIN_TOKEN,
  BOT_TOKEN,
  VIEWER_TOKEN,
  startServer,
  waitFor,
  type ServerProcess,
} from './helpers/server-process';

const KEY_ORDER = [
  'resultId',
  'jobId',
  'attempt',
  'botId',
  'type',
  'status',
  'result',
  'error',
  'createdAt',
  'claimedAt',
  'startedAt',
  'finishedAt',
  'durationMs',
];

let srv: ServerProcess;
afterEach(async () => {
  await srv?.kill();
  if (srv) fs.rmSync(srv.dir, { recursive: true, force: true });
});

async function call(method: string, route: string, body?: unknown, admin = false): Promise<Response> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  // An admin call, else a read as the viewer or a bot's call.
  headers.authorization = `Bearer ${admin ? ADMIN_TOKEN : method === 'GET' ? VIEWER_TOKEN : BOT_TOKEN}`;
  return fetch(`${srv.url}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

/** Creates `count` jobs and has one bot finish them: every third fails. Returns the job ids by outcome. */
async function finishJobs(count: number, botId: string): Promise<{ completed: string[]; failed: string[] }> {
  expect((await call('POST', '/bots/register', { id: botId })).status).toBeLessThan(300);
  expect((await call('POST', '/jobs/populate', { count }, true)).status).toBe(201);
  const out = { completed: [] as string[], failed: [] as string[] };
  for (let i = 0; ; i++) {
    const claim = await call('POST', '/jobs/claim', { botId });
    if (claim.status === 204) break;
    expect(claim.status).toBe(200);
    const job = (await claim.json()) as { id: string; attempts: number };
    expect((await call('POST', `/jobs/${job.id}/start`, { botId, attempt: job.attempts })).status).toBe(200);
    if (i % 3 === 2) {
      expect((await call('POST', `/jobs/${job.id}/fail`, { botId, attempt: job.attempts, error: 'boom' })).status).toBe(
        200,
      );
      out.failed.push(job.id);
    } else {
      expect(
        (await call('POST', `/jobs/${job.id}/complete`, { botId, attempt: job.attempts, result: { i } })).status,
      ).toBe(200);
      out.completed.push(job.id);
    }
  }
  return out;
}

const datalakeDir = () => path.join(srv.dir, 'datalake');

/** Every line of every partition, checking that each file ends in "\n". */
function allLines(): { day: string; raw: string; line: ResultLine }[] {
  if (!fs.existsSync(datalakeDir())) return [];
  return fs
    .readdirSync(datalakeDir())
    .filter((n) => /^results-\d{4}-\d{2}-\d{2}\.ndjson$/.test(n))
    .flatMap((n) => {
      const text = fs.readFileSync(path.join(datalakeDir(), n), 'utf8');
      expect(text === '' || text.endsWith('\n')).toBe(true);
      return text
        .split('\n')
        .filter(Boolean)
        .map((raw) => ({ day: n.slice(8, 18), raw, line: JSON.parse(raw) as ResultLine }));
    });
}

function expectOneLinePerJob(jobIds: string[]): void {
  const lines = allLines();
  expect(lines.map((l) => l.line.jobId).sort()).toEqual([...jobIds].sort());
  expect(new Set(lines.map((l) => l.line.resultId)).size).toBe(lines.length);
}

describe('datalake end to end', () => {
  it('writes one line per finished attempt; stats and export read them', async () => {
    srv = await startServer();
    const { completed, failed } = await finishJobs(9, 'bot-dl-1');
    await waitFor(() => allLines().length === 9);
    const lines = allLines();
    for (const { day, line, raw } of lines) {
      expect(Object.keys(JSON.parse(raw))).toEqual(KEY_ORDER);
      expect(line.finishedAt.slice(0, 10)).toBe(day);
      expect(line.botId).toBe('bot-dl-1');
      expect(line.status).toBe(completed.includes(line.jobId) ? 'completed' : 'failed');
      if (line.status === 'failed') expect(line.error).toBe('boom');
    }
    expectOneLinePerJob([...completed, ...failed]);

    const stats = (await (await call('GET', '/datalake/stats')).json()) as {
      days: { date: string; results: number; completed: number; failed: number; bytes: number }[];
      total: { results: number; completed: number; failed: number; successRate: number; days: number };
    };
    expect(stats.total).toMatchObject({
      results: 9,
      completed: completed.length,
      failed: failed.length,
      successRate: completed.length / 9,
    });

    const day = lines[0].day;
    const exp = await call('GET', `/datalake/export/${day}`);
    expect(exp.status).toBe(200);
    expect(exp.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    expect(
      Buffer.from(await exp.arrayBuffer()).equals(fs.readFileSync(path.join(datalakeDir(), `results-${day}.ndjson`))),
    ).toBe(true);
    expect((await call('GET', '/datalake/export/2001-01-01')).status).toBe(404);
    expect((await call('GET', '/datalake/export/not-a-day')).status).toBe(400);
  });

  it('after SIGKILL over a torn tail, a duplicate and lines never marked written: still exactly one line each', async () => {
    srv = await startServer();
    const first = await finishJobs(6, 'bot-dl-2');
    await waitFor(() => allLines().length === 6);
    await srv.kill();

    const lines = allLines();
    const file = path.join(datalakeDir(), `results-${lines[0].day}.ndjson`);
    // A crash between append and markWritten: the lines are in the file but their rows unwritten.
    const db = new Database(path.join(srv.dir, 'jobs.db'));
    expect(
      db
        .prepare('UPDATE results SET written = 0 WHERE seq IN (SELECT seq FROM results ORDER BY seq DESC LIMIT 2)')
        .run().changes,
    ).toBe(2);
    db.close();
    // A duplicated line and a torn last line (a crash in the middle of an append).
    fs.appendFileSync(file, `${lines[1].raw}\n${lines[2].raw.slice(0, 25)}`);

    await srv.restart();
    expectOneLinePerJob([...first.completed, ...first.failed]);
    expect(srv.output()).not.toMatch(/"level":50/); // no error logged

    // And the writer carries on after the repair.
    const second = await finishJobs(3, 'bot-dl-3');
    const all = [...first.completed, ...first.failed, ...second.completed, ...second.failed];
    await waitFor(() => allLines().length === all.length);
    expectOneLinePerJob(all);
    const stats = (await (await call('GET', '/datalake/stats')).json()) as { total: { results: number } };
    expect(stats.total.results).toBe(9);
  });

  it('SIGTERM flushes: every result is on disk when the process has exited', async () => {
    srv = await startServer();
    const done = await finishJobs(5, 'bot-dl-4');
    expect(await srv.stop()).toBe(0);
    expectOneLinePerJob([...done.completed, ...done.failed]);
    const db = new Database(path.join(srv.dir, 'jobs.db'), { readonly: true });
    expect(db.prepare('SELECT COUNT(*) AS n FROM results WHERE written = 0').get()).toEqual({ n: 0 });
    db.close();
  });
});
