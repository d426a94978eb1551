/**
 * The controller's entry point as a child process: --help, configuration errors, and the
 * kubernetes driver wired from the environment (KUBECONFIG, KUBE_NAMESPACE, ...) against a fake
 * Kubernetes API server, then a clean SIGTERM. (The process driver's entry point is exercised in
 * test/controller-process-driver.test.ts.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startFakeKubeApi, type FakeKubeApi } from './helpers/fake-kube-api';
import { ADMIN_TOKEN, freePort, ROOT, tempDir, waitFor } from './helpers/server-process';
import { testTime } from './helpers/time';

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

  describe('with SCALE_DRIVER=kubernetes against a fake Kubernetes API server', () => {
    let kube: FakeKubeApi;
    let dir: string;
    let ctl: ReturnType<typeof run> | undefined;

    beforeAll(async () => {
      dir = tempDir('controller-main-');
      kube = await startFakeKubeApi({ dir, namespace: 'jobs', deployment: 'fleet-bots', replicas: 1 });
    });

    afterAll(async () => {
      if (ctl && ctl.proc.exitCode === null && ctl.proc.signalCode === null) {
        ctl.proc.kill('SIGKILL');
        await ctl.exited;
      }
      await kube?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it(
      'seeds its ConfigMap, scales the Deployment, serves /scale and /metrics, and exits 0 on SIGTERM',
      async () => {
        const port = await freePort();
        ctl = run({
          SCALE_DRIVER: 'kubernetes',
          KUBECONFIG: kube.kubeconfigPath,
          KUBE_NAMESPACE: 'jobs',
          BOTS_DEPLOYMENT: 'fleet-bots',
          CONTROLLER_CONFIGMAP: 'fleet-controller',
          BOT_REPLICAS: '4',
          CONTROLLER_PORT: String(port),
          CONTROLLER_HOST: '127.0.0.1',
          SERVER_URL: 'http://127.0.0.1:9', // no job server needed for scaling up
          ADMIN_TOKEN,
        });
        await waitFor(() => kube.replicas() === 4, 30000, 100).catch((e) => {
          throw new Error(`${(e as Error).message}\n${ctl!.output()}`);
        });
        expect(kube.configMap('fleet-controller')).toMatchObject({ replicas: '4' });
        const res = await fetch(`http://127.0.0.1:${port}/scale`);
        expect(await res.json()).toMatchObject({ driver: 'kubernetes', desired: 4, current: 4, ready: 4 });
        const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        expect(metrics).toMatch(/^botfleet_controller_desired_bots 4$/m);
        expect(metrics).toMatch(/^botfleet_controller_current_bots 4$/m);
        expect(metrics).toMatch(/^botfleet_controller_scale_actions_total\{direction="up"\} 1$/m);
        expect(metrics).toMatch(/^botfleet_controller_reconcile_total\{result="ok"\} [1-9]/m);
        ctl.proc.kill('SIGTERM');
        expect(await ctl.exited).toBe(0);
        expect(ctl.output()).toContain('"msg":"stopped"');
      },
      testTime(40000),
    );
  });
});
