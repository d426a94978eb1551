/**
 * The controller's entry point as a child process: --help and configuration errors. (The process
 * driver's entry point is exercised in test/controller-process-driver.test.ts, the kubernetes
 * driver's against the real API server in test/deploy-controller-main.test.ts.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './helpers/server-process';

const MAIN = path.join(ROOT, 'controller', 'main.ts');

function run(
  env: Record<string, string>,
  args: string[] = [],
): { proc: ChildProcess; output: () => string; exited: Promise<number | null> } {
  let out = '';
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', LOG_PRETTY: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, output: () => out, exited };
}

describe('controller main', () => {
  it('prints --help and exits 0', async () => {
    const r = run({}, ['--help']);
    expect(await r.exited).toBe(0);
    expect(r.output()).toContain('CONTROLLER_PORT');
    expect(r.output()).toContain('SCALE_DRIVER');
  });

  it('names every bad variable and exits 1', async () => {
    const r = run({ CONTROLLER_PORT: 'http', MAX_BOTS: 'many', RECONCILE_INTERVAL_MS: '5' });
    expect(await r.exited).toBe(1);
    for (const v of ['CONTROLLER_PORT', 'MAX_BOTS', 'RECONCILE_INTERVAL_MS']) expect(r.output()).toContain(v);
  });
});
