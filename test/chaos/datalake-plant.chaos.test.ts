/**
 * End to end: a REAL server is killed with SIGKILL, then its datalake partition gets a
 * missing line (a line of a row already marked written, cut out of the middle), a duplicated line
 * and a torn last line, all at once. Restarted on the same state, the server must repair the file to
 * exactly one line per finished attempt, in the order the rows were written, and carry on writing.
 * (test/datalake-e2e.test.ts plants the torn tail, the duplicate and rows never marked written;
 * the missing line of a written row is planted only here.) On SQLite and on PostgreSQL.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startServer, waitFor, type ServerProcess } from '../helpers/server-process';
import { CHAOS_SERVER_ENV, createJobs, discardServer, printSummary, request } from '../helpers/chaos';
import { checkInvariants, describeEachBackend, readLake } from '../helpers/chaos-state';
import { testTime } from '../helpers/time';

jest.setTimeout(testTime(60_000));

/** One in-test worker finishes every pending job; every third attempt fails. */
async function finishAll(url: string, botId: string): Promise<number> {
  await request(url, 'POST', '/bots/register', { id: botId });
  let n = 0;
  for (;;) {
    const c = await request(url, 'POST', '/jobs/claim', { botId });
    if (c.status === 204) return n;
    expect(c.status).toBe(200);
    const { id, attempts } = c.json as { id: string; attempts: number };
    expect((await request(url, 'POST', `/jobs/${id}/start`, { botId, attempt: attempts })).status).toBe(200);
    const r =
      ++n % 3 === 0
        ? await request(url, 'POST', `/jobs/${id}/fail`, { botId, attempt: attempts, error: 'planted' })
        : await request(url, 'POST', `/jobs/${id}/complete`, { botId, attempt: attempts, result: { n } });
    expect(r.status).toBe(200);
  }
}

describeEachBackend('datalake planted with a missing, a duplicated and a torn line', (backend) => {
  let sp: ServerProcess | undefined;
  afterEach(async () => {
    await discardServer(sp);
    await backend.cleanup();
  });

  it('is repaired at start-up to exactly one line per finished attempt', async () => {
    sp = await startServer({ env: { ...CHAOS_SERVER_ENV, MAX_ATTEMPTS: '1', ...backend.env } });
    const server = sp;
    const lakeDir = path.join(server.dir, 'datalake');
    const first = await createJobs(server.url, 30);
    expect(await finishAll(server.url, 'plant-1')).toBe(30);
    await waitFor(() => readLake(lakeDir).lines.length === 30, 15_000, 50);
    await server.kill();

    const [file] = fs.readdirSync(lakeDir).filter((f) => f.endsWith('.ndjson'));
    const full = path.join(lakeDir, file);
    const raw = fs.readFileSync(full, 'utf8').split('\n').filter(Boolean);
    const missing = JSON.parse(raw[10]).resultId as string;
    const kept = raw.filter((_, i) => i !== 10);
    // A missing line in the middle, a duplicate of line 3 at the end, then half of line 20 (torn).
    fs.writeFileSync(full, `${kept.join('\n')}\n${raw[3]}\n${raw[20].slice(0, Math.floor(raw[20].length / 2))}`);
    expect(readLake(lakeDir).tornFiles).toEqual([file]);

    await server.restart();
    // On PostgreSQL the repair runs once this server holds the leader lock, a moment after start-up,
    // in steps (cut the torn tail, drop duplicates, append what is missing): wait for the end state.
    const t0 = Date.now();
    const repairedNow = () => {
      const l = readLake(lakeDir);
      return l.tornFiles.length === 0 && l.lines.length === 30 && new Set(l.lines.map((x) => x.resultId)).size === 30;
    };
    await waitFor(repairedNow, 15_000, 50).catch(() => undefined); // the assertions below say what is wrong
    const repairMs = Date.now() - t0;
    const repaired = readLake(lakeDir);
    expect(repaired.tornFiles).toEqual([]);
    expect(repaired.badLines).toBe(0);
    const ids = repaired.lines.map((l) => l.resultId);
    expect(new Set(ids).size).toBe(30);
    expect(ids).toHaveLength(30);
    expect(ids).toContain(missing);

    // It carries on writing after the repair.
    const second = await createJobs(server.url, 6);
    expect(await finishAll(server.url, 'plant-2')).toBe(6);
    expect(await server.stop()).toBe(0);
    const db = await backend.view(server);
    try {
      const inv = await checkInvariants(db, lakeDir, [...first, ...second], { requireFinished: true });
      expect(inv.problems).toEqual([]);
      printSummary(`datalake-plant ${backend.name}`, {
        planted: 'missing+duplicate+torn',
        linesAfterRepair: 30,
        repairMs,
        results: inv.results,
        repairs: (server.output().match(/datalake repaired/g) ?? []).length,
      });
    } finally {
      await db.close();
    }
  });
});
