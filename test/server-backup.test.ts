/**
 * `npm run backup` while the real server runs, then a restore drill: integrity ok and the counts of
 * the restored database match what the server reported at backup time.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { ADMIN_TOKEN, BOT_TOKEN, VIEWER_TOKEN, ROOT, startServer, tempDir } from './helpers/server-process';
import { testTime } from './helpers/time';

const run = promisify(execFile);
const backupCli = (args: string[], env: Record<string, string>) =>
  run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'server', 'backup.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
  });

jest.setTimeout(testTime(60_000));

test('online backup of a running server, then a restore drill', async () => {
  const sp = await startServer();
  const db = `sqlite://${path.join(sp.dir, 'jobs.db')}`;
  const viewer = { authorization: `Bearer ${VIEWER_TOKEN}` };
  const post = (p: string, body: unknown, admin = false) =>
    fetch(`${sp.url}${p}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin ? ADMIN_TOKEN : BOT_TOKEN}` },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, json: r.status === 204 ? null : await r.json() }));
  await post('/jobs', { jobs: Array.from({ length: 300 }, (_, i) => ({ type: 'simulated', payload: { i } })) }, true);
  await post('/bots/register', { id: 'b' });
  let prev: { jobId: string; attempt: number } | undefined;
  for (let i = 0; i < 120; i++) {
    const r = await post('/jobs/next', { botId: 'b', ...(prev ? { complete: { ...prev, result: i } } : {}) });
    prev = { jobId: r.json.job.id, attempt: r.json.job.attempts };
  }
  const before = await (await fetch(`${sp.url}/metrics/summary`, { headers: viewer })).json();

  const out = path.join(tempDir('backup-'), 'copy.db');
  const { stdout } = await backupCli(['--out', out], { DATABASE_URL: db });
  const report = JSON.parse(stdout);
  expect(report).toMatchObject({ file: out, integrity: 'ok', counts: { jobs: 300, bots: 1, results: 119 } });

  // Restoring over a database in use is refused.
  await expect(backupCli(['--restore', out], { DATABASE_URL: db })).rejects.toMatchObject({
    code: 1,
    stderr: expect.stringMatching(/another server is already using/),
  });

  // Later work that the backup does not have, then the drill: stop, restore, start, compare.
  await post('/jobs/next', { botId: 'b', complete: { ...prev!, result: 'after' } });
  expect(await sp.stop()).toBe(0);
  const restored = await backupCli(['--restore', out], { DATABASE_URL: db });
  expect(JSON.parse(restored.stdout)).toMatchObject({ integrity: 'ok', counts: { jobs: 300, results: 119 } });
  await sp.restart();
  try {
    const after = await (await fetch(`${sp.url}/metrics/summary`, { headers: viewer })).json();
    expect(after.jobs.completed).toBe(before.jobs.completed);
    expect(after.jobs.total).toBe(300);
    expect((await backupCli(['--verify', out], { DATABASE_URL: db })).stdout).toMatch(/"integrity":"ok"/);
  } finally {
    await sp.stop();
  }
});

test('--help, and PostgreSQL is pointed at pg_dump', async () => {
  expect((await backupCli(['--help'], {})).stdout).toMatch(/npm run backup -- --restore/);
  await expect(backupCli([], { DATABASE_URL: 'postgres://x@127.0.0.1:1/db' })).rejects.toMatchObject({
    stderr: expect.stringMatching(/pg_dump/),
  });
});
