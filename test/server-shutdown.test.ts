/** Graceful shutdown, in-process and of the real process: waiting long-polls answer 204, requests in flight finish, then the store closes. */
import fs from 'node:fs';
import path from 'node:path';
import { botHeaders, call, startInProcess } from './helpers/server-in-process';
import { ADMIN_TOKEN, startServer } from './helpers/server-process';

test('close(): a waiting long-poll gets 204 (not a 5xx), close waits for it, nothing spins', async () => {
  const s = await startInProcess({ RATE_LIMIT_EMPTY_CLAIMS_PER_S: '0' });
  await call(s.url, 'POST', '/bots/register', { id: 'waiter' });
  const started = Date.now();
  const claim = call(s.url, 'POST', '/jobs/claim', { botId: 'waiter', waitMs: 20000 }, botHeaders);
  const next = call(s.url, 'POST', '/jobs/next', { botId: 'waiter', waitMs: 20000 }, botHeaders);
  await new Promise((r) => setTimeout(r, 200));
  const cpuBefore = process.cpuUsage();
  await s.close();
  const cpu = process.cpuUsage(cpuBefore);
  const [c, n] = await Promise.all([claim, next]);
  expect(c.status).toBe(204);
  expect(n.status).toBe(200);
  expect(n.json).toEqual({ finished: null, job: null });
  expect(Date.now() - started).toBeLessThan(5000); // answered at once, not at waitMs
  expect((cpu.user + cpu.system) / 1000).toBeLessThan(2000); // no busy loop while closing
  await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
});

test('close() with the datalake: everything finished before the signal is in the files', async () => {
  const s = await startInProcess();
  await call(s.url, 'POST', '/bots/register', { id: 'b' });
  await call(
    s.url,
    'POST',
    '/jobs',
    { jobs: Array.from({ length: 50 }, () => ({ type: 'simulated' })) },
    { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' },
  );
  let prev: { jobId: string; attempt: number } | undefined;
  for (let i = 0; i < 51; i++) {
    const r = await call(s.url, 'POST', '/jobs/next', {
      botId: 'b',
      ...(prev ? { complete: { ...prev, result: i } } : {}),
    });
    prev = r.json.job ? { jobId: r.json.job.id, attempt: r.json.job.attempts } : undefined;
  }
  await s.close();
  const fs = await import('node:fs');
  const path = await import('node:path');
  const dir = path.join(s.dir, 'datalake');
  const lines = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ndjson'))
    .flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean));
  expect(lines).toHaveLength(50);
});

test('SIGTERM on the real server process: exit 0 after logging "stopped", the SQLite file closed cleanly (no WAL left)', async () => {
  const sp = await startServer({ env: { LOG_LEVEL: 'info' } });
  await call(
    sp.url,
    'POST',
    '/jobs',
    { type: 'simulated' },
    { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
  );
  expect(fs.existsSync(path.join(sp.dir, 'jobs.db-wal'))).toBe(true);
  expect(await sp.stop()).toBe(0);
  // Before the checkpoint thread was waited for, the process ran out of work while stopping it and
  // exited 0 with neither the last log line nor the connection closed.
  expect(sp.output()).toMatch(/"msg":"stopped"/);
  // The last connection to close checkpoints the WAL into the file and deletes it.
  expect(fs.existsSync(path.join(sp.dir, 'jobs.db-wal'))).toBe(false);
});
