/**
 * The benchmark's one smoke test: `npm run bench -- --quick --only=enqueue` runs end to end (real
 * server, real HTTP) and prints a well-formed table; --help names every goal; a bad argument is
 * refused. Speed is never asserted here.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { GOAL_NAMES } from './config';
import { testTime } from '../test/helpers/time';

const ROOT = path.resolve(__dirname, '..');

function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'bench/run.ts', ...args],
      { cwd: ROOT, timeout: testTime(90_000) },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test(
  'npm run bench -- --quick --only=enqueue prints one table; --help names every goal; a bad goal is refused',
  async () => {
    const run = await bench(['--quick', '--only=enqueue']);
    expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({ code: 0, stderr: '' });
    const lines = run.stdout.trim().split('\n');
    expect(lines.some((l) => /^goal +\| figure +\| value/.test(l))).toBe(true);
    expect(lines.find((l) => l.startsWith('enqueue '))).toMatch(
      /POST \/jobs \{jobs: 2,000\} median \| [\d,.]+ jobs\/s \| >= 50,000 jobs\/s \| [\d.]+x \| (yes|NO) /,
    );
    expect(run.stdout).toMatch(/load average at the end: [\d.]+ [\d.]+ [\d.]+ \(\d+ cores\)/);

    const help = await bench(['--help']);
    expect(help.code).toBe(0);
    for (const name of GOAL_NAMES) expect(help.stdout).toMatch(new RegExp(`^ +${name} `, 'm'));
    for (const flag of ['--quick', '--only=', '--compare', 'BENCH_REDIS_URL']) expect(help.stdout).toContain(flag);

    const bad = await bench(['--only=drain,fast']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--only takes goal names');
  },
  testTime(180_000),
);
