import fc from 'fast-check';
import type { ResultLine } from '../core/types';
import { formatLine, resultIdOf, resultIdOfBytes, summarizeLine } from './line-format';
import { addDays, dayOf, dayOfFileName, isDay, partitionFileName } from './paths';
import { makeResult } from './test-support/memory-outbox';

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

describe('formatLine', () => {
  it('writes one line with the keys in the documented order, whatever order the object had', () => {
    const r = makeResult('2026-11-29');
    const shuffled = Object.fromEntries(Object.entries(r).reverse()) as unknown as ResultLine;
    const line = formatLine(shuffled);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(Object.keys(JSON.parse(line))).toEqual(KEY_ORDER);
    expect(JSON.parse(line)).toEqual(r);
  });
});

const jsonValue = fc.jsonValue() as fc.Arbitrary<ResultLine['result']>;
const resultArb: fc.Arbitrary<ResultLine> = fc.record({
  resultId: fc.string({ minLength: 1, maxLength: 40 }),
  jobId: fc.string({ minLength: 1 }),
  attempt: fc.integer({ min: 1, max: 100 }),
  botId: fc.option(fc.string()),
  type: fc.string({ minLength: 1 }),
  status: fc.constantFrom('completed' as const, 'failed' as const),
  result: jsonValue,
  error: fc.option(fc.string()),
  createdAt: fc.constant('2026-11-29T10:00:00.000Z'),
  claimedAt: fc.option(fc.constant('2026-11-29T10:00:01.000Z')),
  startedAt: fc.option(fc.constant('2026-11-29T10:00:02.000Z')),
  finishedAt: fc.constant('2026-11-29T10:00:03.000Z'),
  durationMs: fc.option(fc.oneof(fc.integer({ min: 0, max: 1e9 }), fc.double({ min: 0, max: 1e9, noNaN: true }))),
});

describe('the fast field readers agree with JSON.parse', () => {
  it('for any result, including hostile strings in every field', () => {
    fc.assert(
      fc.property(resultArb, (r) => {
        const line = formatLine(r).slice(0, -1);
        const parsed = JSON.parse(line) as ResultLine;
        expect(resultIdOf(line)).toBe(parsed.resultId);
        expect(resultIdOfBytes(Buffer.from(line))).toBe(parsed.resultId);
        expect(summarizeLine(line)).toEqual({ status: parsed.status, durationMs: parsed.durationMs });
      }),
      { numRuns: 500 },
    );
  });

  it('returns null for lines that are not results', () => {
    for (const bad of [
      '',
      'garbage',
      '{"resultId":"x"',
      '[1,2]',
      '{"jobId":"j"}',
      '{"resultId":"a","status":"running"}',
    ]) {
      expect(summarizeLine(bad)).toBeNull();
    }
    expect(resultIdOf('{"resultId":"x"')).toBeNull();
    expect(resultIdOf('{"jobId":"j"}')).toBeNull();
    // a hand-written line with other key order still counts
    expect(summarizeLine('{"status":"failed","resultId":"a","durationMs":5}')).toEqual({
      status: 'failed',
      durationMs: 5,
    });
  });
});

describe('paths', () => {
  it('names partitions by UTC day and refuses anything that is not a real day', () => {
    expect(partitionFileName('2026-11-29')).toBe('results-2026-11-29.ndjson');
    expect(() => partitionFileName('../etc/passwd')).toThrow();
    expect(() => partitionFileName('2026-02-30')).toThrow();
    expect(isDay('2024-02-29')).toBe(true);
    expect(isDay('2026-13-01')).toBe(false);
    expect(dayOfFileName('results-2026-11-29.ndjson')).toBe('2026-11-29');
    expect(dayOfFileName('results-2026-11-29.ndjson.repair-tmp')).toBeNull();
  });

  it('takes the UTC day of finishedAt, also from a time with an offset', () => {
    expect(dayOf('2026-11-29T23:59:59.999Z')).toBe('2026-11-29');
    expect(dayOf('2026-11-30T00:30:00+01:00')).toBe('2026-11-29');
    expect(() => dayOf('yesterday')).toThrow();
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
  });
});
