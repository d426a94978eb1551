/** Every small bench/ script answers --help with its usage (exit 0) and refuses a count that is not one (exit 2). */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { testTime } from '../test/helpers/time';

const ROOT = path.resolve(__dirname, '..');

function run(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', `bench/${script}.ts`, ...args],
      { cwd: ROOT, timeout: testTime(30_000) },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const SCRIPTS: [string, string[]][] = [
  ['ab', ['HEAD', 'many']],
  ['http-overhead', ['0']],
  ['seed-jobs', ['/nonexistent.db', '-5']],
  ['store-profile', ['abc']],
  ['memory', ['2', '1.5']],
  ['profile-summary', ['x.cpuprofile', 'lots']],
  ['pickup-stages', ['0']],
  ['idle-bots', ['50', 'x']],
];

test.each(SCRIPTS)(
  'bench/%s.ts: --help prints the usage; a bad count is refused with it',
  async (script, bad) => {
    const help = await run(script, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain(`bench/${script}.ts`);
    const refused = await run(script, bad);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /must be a whole number of at least 1, not "[^"]+"\n\nusage: node --import tsx bench\//,
    );
  },
  testTime(70_000),
);
