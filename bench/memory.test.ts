/**
 * bench/memory.ts works end to end on a tiny size: both configurations run, each with the node
 * flags it was given (the peaks differ between them only by the machine's mood, so they are not
 * compared here), and the summary lines are printed.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { testTime } from '../test/helpers/time';

const ROOT = path.resolve(__dirname, '..');

test(
  'bench/memory.ts 1 300 1 prints a round per configuration with rates, CPU per job and peaks',
  async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve) => {
        execFile(
          process.execPath,
          [
            '--import',
            'tsx',
            'bench/memory.ts',
            '1',
            '300',
            '1',
            'server:- bot:-',
            'server:--max-semi-space-size=4 bot:--max-semi-space-size=1',
          ],
          { cwd: ROOT, timeout: testTime(90_000) },
          (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      },
    );
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toContain('A: server (none); bot (none)');
    expect(stdout).toContain('B: server --max-semi-space-size=4; bot --max-semi-space-size=1');
    for (const name of ['A', 'B']) {
      expect(stdout).toMatch(
        new RegExp(
          `round 1 ${name}: \\d+ jobs/s \\(CPU per job: server \\d+ µs, bots \\d+ µs\\); server \\d+ MB at start, peak \\d+ MB; bot peak \\d+ MB`,
        ),
      );
    }
    expect(stdout).toMatch(/mean jobs\/s: A \d+, B \d+ \(B\/A [\d.]+\)/);
    expect(stdout).toMatch(/mean bot CPU per job: A \d+ µs, B \d+ µs/);
  },
  testTime(120_000),
);
