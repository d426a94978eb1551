/**
 * The runtime image's file layout, run for real without Docker: the files `tsc -p tsconfig.build.json`
 * compiles are transpiled (swc, same paths as tsc's output) into a build folder, the Dockerfile's
 * runtime COPY lines and ENV are applied as written, and the four role commands of the image
 * (`node dist/<role>/main.js`, working directory = the "image") run together like compose runs them:
 * server, dashboard, controller with the process driver starting a bot. Every write must land in the
 * data folder (the image's /data) or /tmp, never in the image: the root file system is read-only in
 * Kubernetes and compose.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { transformFileSync } from '@swc/core';
import { BOT_NODE_FLAGS } from '../bot/node-flags';
import { envOfInstruction, parseDockerfile } from './deploy-dockerfile';
import { ADMIN_TOKEN, freePort, waitFor } from './helpers/server-process';

const ROOT = path.resolve(__dirname, '..');

/** Every file below dir, relative to it. */
function listFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

const dockerfile = parseDockerfile(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
const runtimeStage = dockerfile.stages[dockerfile.stages.length - 1];

/**
 * Assembles the runtime image in <base>/app: the build stage's dist/ is made like `npm run build`
 * (tsc's file list and layout, transpiled by swc) in <base>/build, then the runtime stage's own
 * `COPY --from=build` lines are applied (node_modules is linked, not copied: it is 300 MB).
 */
function assembleImage(base: string): string {
  const build = path.join(base, 'build');
  const image = path.join(base, 'app');
  fs.mkdirSync(image);
  const cfg = JSON.parse(
    execFileSync(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--showConfig'],
      { cwd: ROOT, encoding: 'utf8' },
    ),
  ) as { files: string[] };
  for (const f of cfg.files.filter((x) => x.endsWith('.ts') && !x.endsWith('.d.ts'))) {
    const out = path.join(build, 'dist', f.replace(/\.ts$/, '.js'));
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const { code } = transformFileSync(path.join(ROOT, f), {
      swcrc: false,
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'commonjs' },
    });
    fs.writeFileSync(out, code);
  }
  // `npm run build` also builds the stylesheet into dashboard/public (git-ignored).
  if (!fs.existsSync(path.join(ROOT, 'dashboard/public/app.css')))
    execFileSync(process.execPath, ['scripts/build-css.js'], { cwd: ROOT, stdio: 'ignore' });
  const workdir = runtimeStage.body.filter((i) => i.op === 'WORKDIR').pop()?.args;
  expect(workdir).toBe('/app');
  for (const copy of runtimeStage.body.filter((i) => i.op === 'COPY')) {
    const [from, src, dst] = copy.args.split(/\s+/);
    expect(from).toBe('--from=build');
    const rel = path.relative('/app', src);
    const source = rel.startsWith('dist') ? path.join(build, rel) : path.join(ROOT, rel);
    const target = path.resolve(image, dst);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    if (rel === 'node_modules') fs.symlinkSync(source, target, 'dir');
    else fs.cpSync(source, target, { recursive: true });
  }
  return image;
}

/** The runtime stage's ENV, with the image's /app and /data moved to the test's folders. */
function imageEnv(image: string, data: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of runtimeStage.body.filter((x) => x.op === 'ENV')) Object.assign(env, envOfInstruction(i.args));
  for (const k of Object.keys(env))
    env[k] = env[k].replace(/(^|\/\/|=)\/data\b/g, `$1${data}`).replace(/^\/app$/, image);
  return env;
}

describe('runtime image layout (dist/ as the Dockerfile assembles it)', () => {
  const procs: { name: string; proc: ChildProcess; out: string[] }[] = [];
  let image: string;
  let data: string;
  let before: string[];
  let baseEnv: Record<string, string>;
  let base: string;

  const start = (role: string, env: Record<string, string>) => {
    const out: string[] = [];
    const proc = spawn(process.execPath, [`dist/${role}/main.js`], {
      cwd: image,
      env: { PATH: process.env.PATH ?? '', HOME: data, ...baseEnv, LOG_LEVEL: 'warn', ADMIN_TOKEN, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.on('data', (b: Buffer) => out.push(b.toString()));
    proc.stderr!.on('data', (b: Buffer) => out.push(b.toString()));
    procs.push({ name: role, proc, out });
    return proc;
  };
  const stop = (p: ChildProcess) =>
    new Promise<number | null>((resolve) => {
      if (p.exitCode !== null) return resolve(p.exitCode);
      p.once('exit', (code) => resolve(code));
      p.kill('SIGTERM');
    });
  const logs = () => procs.map((p) => `--- ${p.name}\n${p.out.join('').slice(-2000)}`).join('\n');

  beforeAll(() => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'botfleet-image-'));
    data = path.join(base, 'data');
    fs.mkdirSync(data);
    image = assembleImage(base);
    baseEnv = imageEnv(image, data);
    before = listFiles(image);
  });

  afterAll(async () => {
    for (const p of procs.reverse()) {
      if (p.proc.exitCode === null) {
        p.proc.kill('SIGKILL');
        await new Promise((r) => p.proc.once('exit', r));
      }
    }
    // rm -r removes the node_modules link, never what it points to.
    fs.rmSync(base, { recursive: true, force: true });
  });

  test('the image ENV points every write at /data and bots at the compiled command', () => {
    expect(baseEnv).toMatchObject({
      DATABASE_URL: `sqlite://${data}/jobs.db`,
      DATALAKE_DIR: `${data}/datalake`,
      CONTROLLER_STATE_FILE: `${data}/controller-state.json`,
      BOT_COMMAND: ['node', ...BOT_NODE_FLAGS, 'dist/bot/main.js'].join(' '),
      BOT_CWD: image,
    });
  });

  test('each role command exists in dist/ and answers --help', () => {
    for (const role of ['server', 'bot', 'controller', 'dashboard']) {
      expect(fs.existsSync(path.join(image, 'dist', role, 'main.js'))).toBe(true);
      const help = execFileSync(process.execPath, [`dist/${role}/main.js`, '--help'], {
        cwd: image,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '' },
      });
      expect(help.length).toBeGreaterThan(50);
    }
  });

  test('server, dashboard and controller (process driver with one bot) run from the layout, writing only to the data folder', async () => {
    const [serverPort, dashPort, ctlPort] = [await freePort(), await freePort(), await freePort()];
    const server = `http://127.0.0.1:${serverPort}`;
    start('server', {
      SERVER_PORT: String(serverPort),
      SERVER_HOST: '127.0.0.1',
      POPULATE_INTERVAL_MS: '0',
    });
    await waitFor(async () => (await fetch(`${server}/healthz`)).ok, 20000).catch((e) => {
      throw new Error(`${e}\n${logs()}`);
    });

    start('controller', {
      CONTROLLER_PORT: String(ctlPort),
      CONTROLLER_HOST: '127.0.0.1',
      SERVER_URL: server,
      SCALE_DRIVER: 'process',
      BOT_REPLICAS: '1',
      BOT_ID_PREFIX: 'layout-bot',
      HEARTBEAT_INTERVAL_MS: '1000',
      PROCESSING_DURATION_MS: '10',
    });
    start('dashboard', {
      DASHBOARD_PORT: String(dashPort),
      DASHBOARD_HOST: '127.0.0.1',
      SERVER_URL: server,
      CONTROLLER_URL: `http://127.0.0.1:${ctlPort}`,
    });
    const dash = `http://127.0.0.1:${dashPort}`;
    await waitFor(
      async () => (await fetch(`${dash}/healthz`)).ok && (await fetch(`http://127.0.0.1:${ctlPort}/healthz`)).ok,
      20000,
    ).catch((e) => {
      throw new Error(`${e}\n${logs()}`);
    });

    // Views and the stylesheet are found where the Dockerfile puts them.
    const page = await fetch(`${dash}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/assets/app.css');
    const css = await fetch(`${dash}/assets/app.css`);
    expect(css.status).toBe(200);
    expect((await css.text()).length).toBeGreaterThan(1000);

    // The controller started a bot from the image's command, and it registered at the server.
    await waitFor(async () => {
      const bots = (await (await fetch(`${server}/bots`)).json()) as { items: { id: string; status: string }[] };
      return bots.items.some((b) => b.id.startsWith('layout-bot') && b.status !== 'down');
    }, 20000).catch((e) => {
      throw new Error(`${e}\n${logs()}`);
    });

    const codes = [];
    for (const p of [...procs].reverse()) codes.push([p.name, await stop(p.proc)]);
    expect(codes).toEqual([
      ['dashboard', 0],
      ['controller', 0],
      ['server', 0],
    ]);

    expect(listFiles(image)).toEqual(before);
    expect(fs.existsSync(path.join(data, 'jobs.db'))).toBe(true);
    expect(fs.existsSync(path.join(data, 'controller-state.json'))).toBe(true);
  });
});
