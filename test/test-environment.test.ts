/**
 * The test environment (test/helpers/environment.js) stops the child processes a test file left
 * running. Checked with a real jest run of a fixture that starts `sleep 600` and never stops it,
 * once with the plain Node environment (the child outlives the run) and once with ours (it does not).
 * (--forceExit: with the plain environment the child would otherwise keep Jest itself waiting.)
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testTime } from './helpers/time';

const ROOT = path.resolve(__dirname, '..');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function runFixture(environment: string): number {
  const pidFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'env-test-')), 'pid');
  const config = {
    rootDir: ROOT,
    testEnvironment: environment,
    testMatch: ['<rootDir>/test/fixtures/leaves-a-child.fixture.js'],
    transform: {},
  };
  const r = spawnSync(
    process.execPath,
    [
      path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'),
      '--config',
      JSON.stringify(config),
      '--ci',
      '--forceExit',
    ],
    {
      cwd: ROOT,
      env: { ...process.env, PID_FILE: pidFile },
      encoding: 'utf8',
      timeout: testTime(120_000),
    },
  );
  expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, stderr: '' });
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  fs.rmSync(path.dirname(pidFile), { recursive: true, force: true });
  return pid;
}

test(
  'a child process a test file leaves running is stopped when the file ends (and is not without the environment)',
  () => {
    const leaked = runFixture('node');
    try {
      expect(alive(leaked)).toBe(true);
    } finally {
      process.kill(leaked, 'SIGKILL');
    }
    const reaped = runFixture('<rootDir>/test/helpers/environment.js');
    expect(alive(reaped)).toBe(false);
  },
  testTime(240_000),
);
