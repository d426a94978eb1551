/** Cron patterns and firing times through croner: what a schedule accepts, and daylight-saving changes. */
import {
  CreateScheduleSchema,
  cronProblem,
  firingsAfter,
  firstFiringAfter,
  latestFiringAtOrBefore,
  PreviewScheduleSchema,
  timezoneProblem,
} from './schedule';

const at = (s: string) => Date.parse(s);
const isos = (ms: number[]) => ms.map((m) => new Date(m).toISOString());

test('five fields, six with seconds first, and the @ aliases are accepted; seven fields, dates and nonsense are not', () => {
  for (const ok of ['0 6 * * 1-5', '*/2 * * * * *', '@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly'])
    expect([ok, cronProblem(ok, 'UTC')]).toEqual([ok, null]);
  expect(cronProblem('0 0 6 * * * 2030', 'UTC')).toMatch(/5 or 6 parts/);
  expect(cronProblem('2030-01-01T00:00:00', 'UTC')).toMatch(/five fields/);
  expect(cronProblem('* * * *', 'UTC')).toMatch(/five fields/);
  expect(cronProblem('61 * * * *', 'UTC')).toMatch(/minute/);
  expect(cronProblem('@reboot', 'UTC')).toMatch(/reboot/);
  expect(cronProblem('0 0 30 2 *', 'UTC')).toBe('this cron never fires');
  expect(timezoneProblem('Europe/Berlin')).toBeNull();
  expect(timezoneProblem('UTC')).toBeNull();
  expect(timezoneProblem('Mars/Olympus')).toMatch(/unknown time zone "Mars\/Olympus"/);
  expect(timezoneProblem('+01:00')).toMatch(/unknown time zone/);
});

test('the request schema names the field that is wrong, and defaults the zone to UTC', () => {
  const issues = (body: unknown) => {
    const r = CreateScheduleSchema.safeParse(body);
    return r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
  };
  const job = { type: 'hash' };
  expect(issues({ name: 'a', cron: 'nope', job })).toEqual(['cron']);
  expect(issues({ name: 'a', cron: '* * * * *', timezone: 'Nowhere/City', job })).toEqual(['timezone']);
  expect(issues({ name: 'a', cron: '* * * * *', job: { type: 'Bad Type' } })).toEqual(['job.type']);
  expect(issues({ name: 'a', cron: '* * * * *', job: { type: 'hash', key: 'k' } })).toEqual(['job']);
  expect(issues({ name: 'builtin:x', cron: '* * * * *', job })).toEqual(['name']);
  expect(issues({ name: 'a', cron: '* * * * *', job, extra: 1 })).toEqual(['']);
  const ok = CreateScheduleSchema.parse({ name: 'a', cron: '  0 6 * * *  ', job });
  expect(ok).toMatchObject({ cron: '0 6 * * *', timezone: 'UTC', enabled: true, catchUp: false });
  expect(PreviewScheduleSchema.parse({ cron: '@hourly' }).timezone).toBe('UTC');
});

test('Europe/Berlin, March: 06:00 moves from 05:00Z to 04:00Z, and 02:30 (which does not exist that day) fires at 03:00 local', () => {
  const sixOClock = firingsAfter('0 6 * * *', 'Europe/Berlin', at('2026-03-27T12:00:00Z'), 4);
  expect(isos(sixOClock)).toEqual([
    '2026-03-28T05:00:00.000Z', // CET, UTC+1
    '2026-03-29T04:00:00.000Z', // CEST, UTC+2 from 02:00 that night
    '2026-03-30T04:00:00.000Z',
    '2026-03-31T04:00:00.000Z',
  ]);
  expect(isos(firingsAfter('30 2 * * *', 'Europe/Berlin', at('2026-03-27T12:00:00Z'), 3))).toEqual([
    '2026-03-28T01:30:00.000Z',
    '2026-03-29T01:00:00.000Z', // 03:00 CEST, the first valid time after the gap
    '2026-03-30T00:30:00.000Z',
  ]);
});

test('Europe/Berlin, October: 02:30 happens twice and fires once; an hourly cron fires every real hour', () => {
  expect(isos(firingsAfter('30 2 * * *', 'Europe/Berlin', at('2026-10-23T12:00:00Z'), 3))).toEqual([
    '2026-10-24T00:30:00.000Z',
    '2026-10-25T00:30:00.000Z', // 02:30 CEST; 02:30 CET an hour later does not fire again
    '2026-10-26T01:30:00.000Z',
  ]);
  expect(isos(firingsAfter('@hourly', 'Europe/Berlin', at('2026-10-24T23:30:00Z'), 4))).toEqual([
    '2026-10-25T00:00:00.000Z',
    '2026-10-25T01:00:00.000Z',
    '2026-10-25T02:00:00.000Z',
    '2026-10-25T03:00:00.000Z',
  ]);
});

test('first after is strict, latest at-or-before is inclusive, to the millisecond', () => {
  const t = at('2026-01-01T00:00:10.000Z');
  expect(firstFiringAfter('*/2 * * * * *', 'UTC', t)).toBe(t + 2000);
  expect(firstFiringAfter('*/2 * * * * *', 'UTC', t - 1)).toBe(t);
  expect(latestFiringAtOrBefore('*/2 * * * * *', 'UTC', t)).toBe(t);
  expect(latestFiringAtOrBefore('*/2 * * * * *', 'UTC', t + 1999)).toBe(t);
  expect(latestFiringAtOrBefore('*/2 * * * * *', 'UTC', t - 1)).toBe(t - 2000);
  expect(latestFiringAtOrBefore('0 6 * * *', 'Europe/Berlin', at('2026-03-30T03:59:59.999Z'))).toBe(
    at('2026-03-29T04:00:00Z'),
  );
});
