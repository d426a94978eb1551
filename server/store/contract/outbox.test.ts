/** The store contract, the datalake's outbox: one result row per finished attempt, read, marked written, by day, pruned. Run on SQLite and PostgreSQL alike (testing/stores.ts). */
import { job, storeContract } from '../testing/stores';

storeContract('outbox', (ctx) => {
  test('outbox: results by day and the days known', async () => {
    const { store, clock, now, bot } = ctx();
    await store.createJobs([job(), job()], now());
    await bot('a');
    let c = await store.claimJob('a', now());
    await store.completeJob({ jobId: c!.id, botId: 'a' }, 1, now());
    clock.advance(24 * 3600_000);
    c = await store.claimJob('a', now());
    await store.completeJob({ jobId: c!.id, botId: 'a' }, 2, now());
    expect(await store.days()).toEqual(['2026-01-01', '2026-01-02']);
    expect((await store.resultsForDay('2026-01-02')).map((l) => l.result)).toEqual([2]);
    await store.markWritten((await store.fetchUnwritten(10)).map((r) => r.seq));
    expect(await store.pruneResultsBefore('2026-01-02')).toBe(1);
    expect(await store.days()).toEqual(['2026-01-02']);
  });

  test('each finished attempt is one row, in the order they finished, until marked written; a handed-back attempt is none', async () => {
    const { store, clock, now, bot } = ctx();
    const [{ job: j }, { job: k }] = await store.createJobs([job({ maxAttempts: 2 }), job()], now());
    await bot('a');
    await bot('b');
    await store.finishAndClaim('a', null, now()); // j, attempt 1
    clock.advance(10);
    await store.releaseJob({ jobId: j.id, botId: 'a', attempt: 1 }, now());
    expect(await store.fetchUnwritten(10)).toEqual([]);
    expect(await store.countForDay('2026-01-01')).toBe(0);
    const first = (await store.finishAndClaim('b', null, now())).job!; // j again, attempt 1
    expect(first).toMatchObject({ id: j.id, attempts: 1 });
    clock.advance(30);
    const second = (await store.finishAndClaim('b', { jobId: j.id, attempt: 1, error: 'boom' }, now())).job!;
    expect(second).toMatchObject({ id: j.id, attempts: 2 });
    await store.finishAndClaim('b', { jobId: j.id, attempt: 2, result: { ok: true } }, now()); // and claims k
    await store.completeJob({ jobId: k.id, botId: 'b', attempt: 1 }, 'k', now());
    const rows = await store.fetchUnwritten(10);
    expect(rows.map((r) => [r.line.resultId, r.line.status, r.line.botId, r.line.durationMs])).toEqual([
      [`${j.id}:1`, 'failed', 'b', 30],
      [`${j.id}:2`, 'completed', 'b', 0],
      [`${k.id}:1`, 'completed', 'b', 0],
    ]);
    expect(rows[0].line).toMatchObject({ error: 'boom', result: null, attempt: 1 });
    expect(rows.map((r) => r.seq)).toEqual([...rows.map((r) => r.seq)].sort((a, b) => a - b));
    expect((await store.fetchUnwritten(2)).map((r) => r.seq)).toEqual(rows.slice(0, 2).map((r) => r.seq));
    await store.markWritten([rows[0].seq, rows[2].seq]);
    expect((await store.fetchUnwritten(10)).map((r) => r.seq)).toEqual([rows[1].seq]);
    expect(await store.countForDay('2026-01-01')).toBe(3);
    expect((await store.resultsForDay('2026-01-01')).map((l) => l.resultId)).toEqual(rows.map((r) => r.line.resultId));
    // Written or not, a day's rows stay until pruned, and only written rows are pruned.
    expect(await store.pruneResultsBefore('2026-01-02')).toBe(2);
    expect((await store.fetchUnwritten(10)).map((r) => r.seq)).toEqual([rows[1].seq]);
  });
});
