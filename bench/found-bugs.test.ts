/**
 * Regression tests for server bugs the benchmark found, against the real server process:
 * - a long-poll claim whose bot disconnected kept claiming and took a job nobody would run;
 * - a report that found the queue empty spent the bot's empty-claim budget (429, a second lost).
 */
import http from 'node:http';
import { ADMIN_TOKEN, BOT_TOKEN, startServer, type ServerProcess } from '../test/helpers/server-process';

let s: ServerProcess;
beforeAll(async () => {
  s = await startServer({ env: { RATE_LIMIT_EMPTY_CLAIMS_PER_S: '2' } });
});
afterAll(async () => {
  await s.stop();
});

interface JobLite {
  id: string;
  attempts: number;
}
interface Answer {
  id: string;
  job?: JobLite | null;
}

async function post(path: string, body: unknown, admin = false): Promise<{ status: number; json: Answer }> {
  const r = await fetch(`${s.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${admin ? ADMIN_TOKEN : BOT_TOKEN}` },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

test.each(['/jobs/claim', '/jobs/next'])('a long-poll on %s whose client went away takes no job', async (route) => {
  const botId = `gone-${route.split('/')[2]}`;
  await post('/bots/register', { id: botId });
  // Start a long-poll on a raw socket and cut it once the server has the request.
  await new Promise<void>((resolve, reject) => {
    const req = http.request(`${s.url}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${BOT_TOKEN}` },
    });
    req.on('error', () => resolve()); // the abort below
    req.end(JSON.stringify({ botId, waitMs: 20_000 }));
    setTimeout(() => {
      req.destroy();
      resolve();
    }, 300);
    req.on('response', () => reject(new Error('the long-poll answered before any job existed')));
  });
  await new Promise((r) => setTimeout(r, 300)); // the server sees the socket close
  const job = (await post('/jobs', { type: 'simulated' }, true)).json;
  await new Promise((r) => setTimeout(r, 700)); // longer than the 250 ms re-check of a long-poll
  const after = await (
    await fetch(`${s.url}/jobs/${job.id}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  ).json();
  expect({ status: after.status, botId: after.botId }).toEqual({ status: 'pending', botId: null });
  await post(`/jobs/${job.id}/cancel`, {}, true);
});

test('reports that find the queue empty do not spend the empty-claim budget', async () => {
  await post('/bots/register', { id: 'steady' });
  const statuses: number[] = [];
  // More reports than the budget (2/s, burst 4), each answered "nothing left", as when jobs trickle in.
  for (let i = 0; i < 8; i++) {
    const job = (await post('/jobs', { type: 'simulated' }, true)).json;
    const got = await post('/jobs/next', { botId: 'steady' });
    statuses.push(got.status);
    expect(got.json.job?.id).toBe(job.id);
    const report = await post('/jobs/next', {
      botId: 'steady',
      complete: { jobId: job.id, attempt: got.json.job!.attempts, result: null },
    });
    statuses.push(report.status);
    expect(report.json.job).toBeNull();
  }
  expect(statuses.every((c) => c === 200)).toBe(true);
  // A bare claim that finds nothing is still limited.
  const bare: number[] = [];
  for (let i = 0; i < 6; i++) bare.push((await post('/jobs/next', { botId: 'steady' })).status);
  expect(bare).toContain(429);
});
