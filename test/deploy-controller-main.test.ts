/**
 * The controller's entry point as a child process with SCALE_DRIVER=kubernetes, wired from the
 * environment (KUBECONFIG of the chart's ServiceAccount, KUBE_NAMESPACE, BOTS_DEPLOYMENT,
 * CONTROLLER_CONFIGMAP) against the real API server of the local cluster: it writes its ConfigMap,
 * scales the Deployment, serves /scale and /metrics, and exits 0 on SIGTERM. (--help and
 * configuration errors: test/controller-main.test.ts.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  BOTS_DEPLOYMENT,
  CONTROLLER_CONFIGMAP,
  createControllerNamespace,
  type ControllerNamespace,
} from './deploy-kube';
import { TOKENS_ENV, freePort, ROOT, tempDir } from './helpers/server-process';
import { testTime } from './helpers/time';

let ns: ControllerNamespace;
let dir: string;
let ctl: ChildProcess | undefined;
let output = '';

beforeAll(async () => {
  dir = tempDir('controller-main-');
  ns = await createControllerNamespace('controller-main');
}, testTime(60_000));

afterAll(async () => {
  if (ctl && ctl.exitCode === null && ctl.signalCode === null) ctl.kill('SIGKILL');
  await ns?.remove();
  fs.rmSync(dir, { recursive: true, force: true });
}, testTime(60_000));

test(
  'seeds its ConfigMap, scales the Deployment, serves /scale and /metrics, and exits 0 on SIGTERM',
  async () => {
    const kubeconfig = path.join(dir, 'kubeconfig');
    fs.writeFileSync(kubeconfig, ns.serviceAccount.exportConfig(), { mode: 0o600 });
    const port = await freePort();
    ctl = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'controller', 'main.ts')], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        LOG_PRETTY: 'false',
        SCALE_DRIVER: 'kubernetes',
        KUBECONFIG: kubeconfig,
        KUBE_NAMESPACE: ns.namespace,
        BOTS_DEPLOYMENT,
        CONTROLLER_CONFIGMAP,
        BOT_REPLICAS: '2',
        CONTROLLER_PORT: String(port),
        CONTROLLER_HOST: '127.0.0.1',
        SERVER_URL: 'http://127.0.0.1:9', // no job server needed for scaling up
        ...TOKENS_ENV,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    ctl.stdout!.on('data', (d) => (output += d));
    ctl.stderr!.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => ctl!.once('exit', (code) => resolve(code)));
    await ns.waitForReadyPods(2).catch((e: Error) => {
      throw new Error(`${e.message}\n${output}`);
    });
    expect(await ns.configMap()).toMatchObject({ replicas: '2' });
    const viewer = { headers: { authorization: `Bearer ${TOKENS_ENV.VIEWER_TOKEN}` } };
    const scale = await fetch(`http://127.0.0.1:${port}/scale`, viewer);
    expect(await scale.json()).toMatchObject({ driver: 'kubernetes', desired: 2, current: 2 });
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`, viewer)).text();
    expect(metrics).toMatch(/^botfleet_controller_desired_bots 2$/m);
    expect(metrics).toMatch(/^botfleet_controller_current_bots 2$/m);
    expect(metrics).toMatch(/^botfleet_controller_scale_actions_total\{direction="up"\} 1$/m);
    expect(metrics).toMatch(/^botfleet_controller_reconcile_total\{result="ok"\} [1-9]/m);
    ctl.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('"msg":"stopped"');
    expect(output).not.toContain('watch failed');
  },
  testTime(120_000),
);
