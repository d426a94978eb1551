/**
 * The store contract, schedules: stored and replaced, each firing taken once (a compare-and-set in
 * the transaction of its job), no burst after downtime, and daylight-saving changes, with the tick
 * of server/schedule-runner.ts on an injected clock. Run on SQLite and PostgreSQL alike
 * (testing/stores.ts).
 */
import pino from 'pino';
import { ConflictError, NotFoundError } from '../../../core/errors';
import { CreateScheduleSchema, type NewSchedule } from '../../../core/schedule';
import { JOB_STATUSES } from '../../../core/types';
import { planFiring, ScheduleRunner, SKIP_COUNT_LIMIT } from '../../schedule-runner';
import { type Contract, storeContract } from '../testing/stores';

const GRACE = 60_000;
const schedule = (input: Partial<NewSchedule> & { name: string; cron: string }) =>
  CreateScheduleSchema.parse({ job: { type: 'hash', payload: { n: 1 } }, ...input });

/** A tick of the runner at the contract's clock, with its log lines kept. */
function runner(c: Contract) {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  const r = new ScheduleRunner(c.store, c.clock, log, { tickMs: 1000, misfireGraceMs: GRACE });
  return { tick: () => r.tick(), lines };
}

/** The jobs a schedule made, oldest firing first. */
async function firedJobs(c: Contract, name: string) {
  const all = (await c.store.listJobs({ limit: 500 })).items.filter((j) => j.schedule === name);
  return all.map((j) => j.runAt!).sort();
}

storeContract('schedules', (ctx) => {
  test('create, get, list, replace and remove; 409 for a taken name, 404 for an unknown one', async () => {
    const c = ctx();
    const s = c.store.schedules;
    const made = await s.create(schedule({ name: 'nightly', cron: '0 3 * * *', timezone: 'Europe/Berlin' }), c.now());
    expect(made).toMatchObject({
      name: 'nightly',
      cron: '0 3 * * *',
      timezone: 'Europe/Berlin',
      job: { type: 'hash', payload: { n: 1 }, priority: 0 },
      enabled: true,
      catchUp: false,
      nextRunAt: Date.parse('2026-01-01T02:00:00Z'),
      lastRunAt: null,
      revision: 1,
    });
    await expect(s.create(schedule({ name: 'nightly', cron: '@hourly' }), c.now())).rejects.toThrow(ConflictError);
    await s.create(schedule({ name: 'another', cron: '@hourly', enabled: false }), c.now());
    expect((await s.list()).map((r) => [r.name, r.nextRunAt])).toEqual([
      ['another', null],
      ['nightly', made.nextRunAt],
    ]);
    const replaced = await s.replace(
      'nightly',
      { ...schedule({ name: 'nightly', cron: '0 4 * * *' }), timezone: 'UTC', catchUp: true },
      c.now(),
    );
    expect(replaced).toMatchObject({ cron: '0 4 * * *', timezone: 'UTC', catchUp: true, revision: 2 });
    expect(replaced.nextRunAt).toBe(Date.parse('2026-01-01T04:00:00Z'));
    await expect(s.replace('nobody', schedule({ name: 'x', cron: '@hourly' }), c.now())).rejects.toThrow(NotFoundError);
    expect(await s.remove('nightly')).toBe(true);
    expect(await s.remove('nightly')).toBe(false);
    expect(await s.get('nightly')).toBeNull();
  });

  test('each firing makes one job naming its schedule, runAt the firing; the counters stay exact', async () => {
    const c = ctx();
    const r = runner(c);
    await c.store.schedules.create(schedule({ name: 'every-2s', cron: '*/2 * * * * *' }), c.now());
    for (let i = 0; i < 10; i++) {
      c.clock.advance(1000);
      await r.tick();
    }
    const fired = await firedJobs(c, 'every-2s');
    expect(fired).toEqual(Array.from({ length: 5 }, (_, i) => new Date(c.now() - 8000 + i * 2000).toISOString()));
    const last = (await c.store.schedules.get('every-2s'))!;
    expect(last.lastRunAt).toBe(c.now());
    const job = (await c.store.getJob(last.lastJobId!))!;
    expect(job).toMatchObject({ schedule: 'every-2s', type: 'hash', payload: { n: 1 }, status: 'pending' });
    expect(job.events.map((e) => e.note)).toEqual(['created']);
    const s = await c.store.summary(c.now());
    const listed = await Promise.all(
      JOB_STATUSES.map(async (st) => (await c.store.listJobs({ status: st, limit: 500 })).items.length),
    );
    expect(s.jobs.pending).toBe(5);
    expect(JOB_STATUSES.map((st) => s.jobs[st])).toEqual(listed);
    await c.bot('b');
    expect((await c.store.claimJob('b', c.now()))!.schedule).toBe('every-2s'); // due at once
  });

  test('a firing is taken once: the same decision applied twice, or by concurrent callers, makes one job', async () => {
    const c = ctx();
    await c.store.schedules.create(schedule({ name: 'once', cron: '* * * * *' }), c.now());
    c.clock.advance(60_000);
    const rec = (await c.store.schedules.get('once'))!;
    const plan = planFiring(rec, c.now(), GRACE);
    const results = await Promise.all(Array.from({ length: 8 }, () => c.store.schedules.fire(rec, plan, c.now())));
    expect(results.filter((x) => x.taken)).toHaveLength(1);
    expect(results.filter((x) => x.job)).toHaveLength(1);
    expect(await c.store.schedules.fire(rec, plan, c.now())).toEqual({ taken: false, job: null });
    expect(await firedJobs(c, 'once')).toEqual([new Date(c.now()).toISOString()]);
    expect((await c.store.summary(c.now())).jobs.total).toBe(1);
  });

  test('PUT never fires one instant twice: not at the same time, not with the clock stepped back', async () => {
    const c = ctx();
    const r = runner(c);
    await c.store.schedules.create(schedule({ name: 'p', cron: '*/10 * * * * *' }), c.now());
    c.clock.advance(10_000);
    await r.tick(); // fires T
    const T = c.now();
    // Every 5 s also fires at T: replaced at T, it waits for T + 5 s.
    const now5 = await c.store.schedules.replace('p', schedule({ name: 'p', cron: '*/5 * * * * *' }), T);
    expect(now5.nextRunAt).toBe(T + 5000);
    await r.tick();
    // With the clock 3 s back, the next firing still comes after T.
    c.clock.set(T - 3000);
    const back = await c.store.schedules.replace('p', schedule({ name: 'p', cron: '* * * * * *' }), c.now());
    expect(back.nextRunAt).toBe(T + 1000);
    await r.tick();
    c.clock.set(T + 1000);
    await r.tick();
    expect(await firedJobs(c, 'p')).toEqual([new Date(T).toISOString(), new Date(T + 1000).toISOString()]);
  });

  test('a firing decided from a schedule replaced meanwhile takes nothing; an unchanged cron keeps its due firing', async () => {
    const c = ctx();
    await c.store.schedules.create(schedule({ name: 'r', cron: '* * * * *' }), c.now());
    c.clock.advance(60_000);
    const before = (await c.store.schedules.get('r'))!;
    const plan = planFiring(before, c.now(), GRACE);
    const after = await c.store.schedules.replace(
      'r',
      schedule({ name: 'r', cron: '* * * * *', job: { type: 'fib', payload: {}, priority: 5 } }),
      c.now(),
    );
    expect(after.nextRunAt).toBe(before.nextRunAt); // the due firing is still to come
    expect(await c.store.schedules.fire(before, plan, c.now())).toEqual({ taken: false, job: null });
    await runner(c).tick();
    const [job] = (await c.store.listJobs({ limit: 10 })).items;
    expect(job).toMatchObject({ type: 'fib', priority: 5, schedule: 'r', runAt: new Date(c.now()).toISOString() });
  });

  test('disabled schedules do not fire; enabled again, they start from now without catching up', async () => {
    const c = ctx();
    const r = runner(c);
    await c.store.schedules.create(schedule({ name: 'd', cron: '* * * * *', catchUp: true }), c.now());
    const off = await c.store.schedules.replace(
      'd',
      schedule({ name: 'd', cron: '* * * * *', enabled: false }),
      c.now(),
    );
    expect(off.nextRunAt).toBeNull();
    c.clock.advance(10 * 60_000);
    expect(await r.tick()).toBe(0);
    c.clock.advance(30_000);
    const on = await c.store.schedules.replace('d', schedule({ name: 'd', cron: '* * * * *', catchUp: true }), c.now());
    expect(on.nextRunAt).toBe(c.now() + 30_000);
    expect(await r.tick()).toBe(0);
    expect(await firedJobs(c, 'd')).toEqual([]);
    expect(r.lines.filter((l) => l.msg === 'schedule skipped missed firings')).toEqual([]);
  });

  test('after downtime, catchUp false: the missed firings are skipped and logged, no job; the next one runs', async () => {
    const c = ctx();
    const r = runner(c);
    await c.store.schedules.create(schedule({ name: 'hourly', cron: '@hourly' }), c.now());
    const start = c.now();
    c.clock.advance(5.5 * 3600_000); // down from before 01:00 to 05:30: five firings missed
    expect(await r.tick()).toBe(0);
    const [skip] = r.lines.filter((l) => l.msg === 'schedule skipped missed firings');
    expect(skip).toMatchObject({
      schedule: 'hourly',
      skipped: 5,
      more: false,
      first: new Date(start + 3600_000).toISOString(),
      last: new Date(start + 5 * 3600_000).toISOString(),
    });
    expect((await c.store.schedules.get('hourly'))!.nextRunAt).toBe(start + 6 * 3600_000);
    c.clock.advance(0.5 * 3600_000);
    expect(await r.tick()).toBe(1);
    expect(await firedJobs(c, 'hourly')).toEqual([new Date(start + 6 * 3600_000).toISOString()]);
  });

  test('after downtime, catchUp false: the latest firing still runs when it is later than it should be by less than the grace', async () => {
    const c = ctx();
    const r = runner(c);
    await c.store.schedules.create(schedule({ name: 'm', cron: '* * * * *' }), c.now());
    c.clock.advance(10 * 60_000 + GRACE - 1000); // ten minutes down, the last firing 59 s ago
    expect(await r.tick()).toBe(1);
    expect(await firedJobs(c, 'm')).toEqual([new Date(c.now() - GRACE + 1000).toISOString()]);
    expect(r.lines.find((l) => l.msg === 'schedule skipped missed firings')).toMatchObject({ skipped: 9 });
  });

  test('after downtime, catchUp true: only the last missed firing runs, however late', async () => {
    const c = ctx();
    const r = runner(c);
    await c.store.schedules.create(schedule({ name: 'c', cron: '@hourly', catchUp: true }), c.now());
    const start = c.now();
    c.clock.advance(5.5 * 3600_000);
    expect(await r.tick()).toBe(1);
    expect(await r.tick()).toBe(0);
    expect(await firedJobs(c, 'c')).toEqual([new Date(start + 5 * 3600_000).toISOString()]);
    expect(r.lines.find((l) => l.msg === 'schedule skipped missed firings')).toMatchObject({
      skipped: 4,
      first: new Date(start + 3600_000).toISOString(),
      last: new Date(start + 4 * 3600_000).toISOString(),
    });
  });

  test('a day down under a schedule every second: one job, the skipped count capped and said to be more', async () => {
    const c = ctx();
    const r = runner(c);
    await c.store.schedules.create(schedule({ name: 's', cron: '* * * * * *', catchUp: true }), c.now());
    const start = c.now();
    c.clock.advance(24 * 3600_000);
    expect(await r.tick()).toBe(1);
    expect(r.lines.find((l) => l.msg === 'schedule skipped missed firings')).toMatchObject({
      skipped: SKIP_COUNT_LIMIT,
      more: true,
      first: new Date(start + 1000).toISOString(),
      last: new Date(c.now() - 1000).toISOString(),
    });
  });

  test('Europe/Berlin across both changes of 2026: one job a day, at the local time croner gives', async () => {
    const c = ctx();
    const r = runner(c);
    const fire = async (from: string, to: string) => {
      for (c.clock.set(Date.parse(from)); c.now() <= Date.parse(to); c.clock.advance(15 * 60_000)) await r.tick();
    };
    c.clock.set(Date.parse('2026-03-27T12:00:00Z'));
    await c.store.schedules.create(
      schedule({ name: 'berlin', cron: '30 2 * * *', timezone: 'Europe/Berlin' }),
      c.now(),
    );
    await fire('2026-03-27T12:00:00Z', '2026-03-30T12:00:00Z');
    expect(await firedJobs(c, 'berlin')).toEqual([
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:00:00.000Z', // 02:30 does not exist that night: 03:00 CEST
      '2026-03-30T00:30:00.000Z',
    ]);
    // The clock jumps to October: the missed firings are skipped, and the next ones come as before.
    await fire('2026-10-23T12:00:00Z', '2026-10-26T12:00:00Z');
    expect((await firedJobs(c, 'berlin')).slice(3)).toEqual([
      '2026-10-24T00:30:00.000Z',
      '2026-10-25T00:30:00.000Z', // 02:30 happens twice that night: one job
      '2026-10-26T01:30:00.000Z',
    ]);
  });
});
