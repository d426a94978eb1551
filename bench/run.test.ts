/**
 * The benchmark harness works end to end (real server, real HTTP) on a tiny size. Speed is never
 * asserted here: only that the run finishes and prints a well-formed table.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { parseBenchOptions } from './config';
import { formatTable, met, ratioOf } from './table';
import { testTime } from '../test/helpers/time';

const ROOT = path.resolve(__dirname, '..');

test('npm run bench -- --quick --only=3 prints one table with the bulk-enqueue figure', async () => {
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'bench/run.ts', '--quick', '--only=3'],
        { cwd: ROOT, timeout: testTime(60_000) },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    },
  );
  expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
  const lines = stdout.trim().split('\n');
  expect(lines.some((l) => /^goal \| figure \| value/.test(l.replace(/\s+\|/g, ' |')))).toBe(true);
  const row = lines.find((l) => l.startsWith('3 '));
  expect(row).toMatch(
    /POST \/jobs \{jobs: 2,000\} median \| [\d,.]+ jobs\/s \| >= 50,000 jobs\/s \| [\d.]+x \| (yes|NO) /,
  );
  expect(stdout).toMatch(/load average at the end: [\d.]+ [\d.]+ [\d.]+ \(\d+ cores\)/);
});

test('options: --only picks goals, bad arguments are refused, --quick shrinks every size', () => {
  const full = parseBenchOptions([], {});
  const quick = parseBenchOptions(['--quick', '--only=2,5', '--compare'], {});
  expect([...full.only]).toEqual([1, 2, 3, 4, 5, 6]);
  expect([...quick.only]).toEqual([2, 5]);
  expect(quick.compare).toBe(true);
  expect(full.sizes.scaleSeedJobs).toBe(1_000_000);
  for (const k of Object.keys(full.sizes) as (keyof typeof full.sizes)[])
    expect(quick.sizes[k]).toBeLessThanOrEqual(full.sizes[k]);
  expect(() => parseBenchOptions(['--only=7'], {})).toThrow(/--only/);
  expect(() => parseBenchOptions(['--fast'], {})).toThrow(/unknown argument/);
  expect(() => parseBenchOptions([], { BENCH_REDIS_URL: 'not a url' })).toThrow(/BENCH_REDIS_URL/);
});

test('table: ratio above 1 means better than the target, for rates and for latencies alike', () => {
  const rate = { goal: '1', what: 'rate', value: 5000, unit: 'jobs/s', target: 4000, sense: 'min' as const };
  const lat = { goal: '2', what: 'p99', value: 20, unit: 'ms', target: 10, sense: 'max' as const };
  expect(ratioOf(rate)).toBeCloseTo(1.25);
  expect(met(rate)).toBe(true);
  expect(ratioOf(lat)).toBeCloseTo(0.5);
  expect(met(lat)).toBe(false);
  const text = formatTable([rate, lat, { ...rate, target: null, what: 'context' }]);
  expect(text.split('\n')).toHaveLength(5);
  expect(text).toContain('| NO ');
  expect(text).toMatch(/context .*\| - +\| - +\| -/);
});
