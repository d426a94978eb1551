/**
 * docker-compose.yml, checked by docker-compose itself (`config -q` validates the file without a
 * Docker daemon) and then by reading the configuration compose resolves: scalable bots, health checks
 * that work, hardening, named volumes, and env each component's own config loader accepts.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { loadBotConfig } from '../bot/config';
import { BOT_NODE_FLAGS } from '../bot/node-flags';
import { loadConfig as loadControllerConfig } from '../controller/config';
import { loadDashboardConfig } from '../dashboard/config';
import { loadServerConfig } from '../server/config';
import { SERVER_NODE_FLAGS } from '../server/node-flags';
import { testTime } from './helpers/time';

const ROOT = path.resolve(__dirname, '..');
const HAS_COMPOSE = spawnSync('sh', ['-c', 'command -v docker-compose'], { encoding: 'utf8' }).status === 0;
// CI installs docker-compose (.ci/run); elsewhere its absence skips these tests instead of failing them.
const describeCompose = HAS_COMPOSE || process.env.CI ? describe : describe.skip;

interface Service {
  command: string[];
  environment?: Record<string, string>;
  ports?: { target: number; published: number | string }[] | string[];
  volumes?: ({ type: string; source: string; target: string } | string)[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  container_name?: string;
  read_only?: boolean;
  user?: string;
  cap_drop?: string[];
  security_opt?: string[];
  tmpfs?: string[] | string;
  init?: boolean;
}

/** `docker-compose config` with a clean environment and an empty env file, so a local .env cannot leak in. */
function composeConfig(env: Record<string, string> = {}, ...extra: string[]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-'));
  const envFile = path.join(dir, 'empty.env');
  fs.writeFileSync(envFile, '');
  const r = spawnSync('docker-compose', ['--env-file', envFile, '-f', 'docker-compose.yml', 'config', ...extra], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), ...env },
    timeout: testTime(20000),
  });
  fs.rmSync(dir, { recursive: true, force: true });
  return r;
}

describeCompose('docker-compose.yml', () => {
  let services: Record<string, Service>;
  let top: { volumes?: Record<string, unknown> };

  beforeAll(() => {
    const r = composeConfig();
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    top = yaml.load(r.stdout) as typeof top;
    services = (top as { services: Record<string, Service> }).services;
  });

  test('docker-compose config -q accepts the file', () => {
    const r = composeConfig({}, '-q');
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  test('server, dashboard, controller and 3 bots, each role chosen by its command', () => {
    expect(Object.keys(services).sort()).toEqual(['bot', 'controller', 'dashboard', 'server']);
    for (const [name, s] of Object.entries(services)) {
      const role = name === 'bot' ? 'bot' : name;
      const flags = role === 'bot' ? BOT_NODE_FLAGS : role === 'server' ? SERVER_NODE_FLAGS : [];
      expect(s.command).toEqual(['node', ...flags, `dist/${role}/main.js`]);
    }
    expect(services.bot.deploy?.replicas).toBe(3);
  });

  test('bots can be scaled with --scale: no container_name and no published port on any replicated service', () => {
    for (const s of Object.values(services)) expect(s.container_name).toBeUndefined();
    expect(services.bot.ports ?? []).toEqual([]);
    for (const dep of ['dashboard', 'controller', 'bot'])
      expect(services[dep].depends_on?.server).toEqual({ condition: 'service_healthy' });
  });

  test('every container is hardened: read-only root, uid 10001, no capabilities, no privilege gain, init', () => {
    for (const [name, s] of Object.entries(services)) {
      expect({ name, read_only: s.read_only, user: s.user, cap_drop: s.cap_drop, init: s.init }).toEqual({
        name,
        read_only: true,
        user: '10001:10001',
        cap_drop: ['ALL'],
        init: true,
      });
      expect(s.security_opt).toContain('no-new-privileges:true');
      expect([s.tmpfs].flat()).toContain('/tmp');
    }
  });

  test('server and controller keep their state in named volumes at /data', () => {
    // docker-compose 1.x prints "name:/target:rw", compose v2 the long form: accept both.
    const mount = (s: Service) =>
      s.volumes?.map((v) => {
        if (typeof v !== 'string') return [v.type, v.source, v.target];
        const [source, target] = (v as string).split(':');
        return [/^[\w-]+$/.test(source) ? 'volume' : 'bind', source, target];
      });
    expect(mount(services.server)).toEqual([['volume', 'server-data', '/data']]);
    expect(mount(services.controller)).toEqual([['volume', 'controller-data', '/data']]);
    expect(Object.keys(top.volumes ?? {}).sort()).toEqual(['controller-data', 'server-data']);
    expect(services.server.environment?.DATABASE_URL).toBe('sqlite:///data/jobs.db');
    expect(services.server.environment?.DATALAKE_DIR).toMatch(/^\/data\//);
    expect(services.controller.environment?.CONTROLLER_STATE_FILE).toMatch(/^\/data\//);
    for (const name of ['dashboard', 'bot']) expect(services[name].volumes ?? []).toEqual([]);
  });

  test('the controller runs its bots as processes with the same command as the bot service', () => {
    const env = services.controller.environment!;
    expect(env.SCALE_DRIVER).toBe('process');
    expect(env.BOT_COMMAND.split(' ')).toEqual(services.bot.command);
    expect(env.BOT_REPLICAS).toBe('0');
  });

  test("each service's env is accepted by that component's config loader and names only its variables", () => {
    const source = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');
    const cases: [string, string, (e: NodeJS.ProcessEnv) => unknown][] = [
      ['server', source('server/config.ts'), loadServerConfig],
      ['dashboard', source('dashboard/config.ts'), loadDashboardConfig],
      // The controller hands its environment to the bots it starts, so bot variables belong there too.
      ['controller', source('controller/config.ts') + source('bot/config.ts'), loadControllerConfig],
      ['bot', source('bot/config.ts'), loadBotConfig],
    ];
    for (const [name, known, load] of cases) {
      const env = services[name].environment ?? {};
      expect({ name, unknown: Object.keys(env).filter((k) => !new RegExp(`\\b${k}\\b`).test(known)) }).toEqual({
        name,
        unknown: [],
      });
      expect(() => load(env)).not.toThrow();
    }
    expect(services.bot.environment?.ADMIN_TOKEN).toBeUndefined(); // bots need no admin rights
  });

  test('settings come from the environment or .env (ADMIN_TOKEN, durations)', () => {
    const r = composeConfig({ ADMIN_TOKEN: 'a-token-from-the-shell', PROCESSING_DURATION_MS: '1234' });
    const s = (yaml.load(r.stdout) as { services: Record<string, Service> }).services;
    for (const name of ['server', 'dashboard', 'controller'])
      expect(s[name].environment?.ADMIN_TOKEN).toBe('a-token-from-the-shell');
    expect(s.bot.environment?.PROCESSING_DURATION_MS).toBe('1234');
    expect(s.controller.environment?.PROCESSING_DURATION_MS).toBe('1234');
  });

  test('each health check is node fetching its own /healthz, and it exits 0 on 200 and 1 otherwise', async () => {
    const portEnv: Record<string, string> = {
      server: 'SERVER_PORT',
      dashboard: 'DASHBOARD_PORT',
      controller: 'CONTROLLER_PORT',
    };
    let status = 200;
    const fake = http.createServer((req, res) => {
      res.statusCode = req.url === '/healthz' ? status : 404;
      res.end();
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    const port = (fake.address() as AddressInfo).port;
    const run = (argv: string[]) =>
      new Promise<number | null>((resolve) => {
        spawn(argv[0] === 'node' ? process.execPath : argv[0], argv.slice(1), { stdio: 'ignore' }).on('exit', resolve);
      });
    try {
      for (const [name, envName] of Object.entries(portEnv)) {
        const test = services[name].healthcheck!.test;
        const own = services[name].environment![envName];
        expect(test.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
        expect(test[3]).toContain(`http://localhost:${own}/healthz`);
        // The same script pointed at a local HTTP server on a free port.
        const argv = test.slice(1).map((a) => a.replace(`localhost:${own}`, `127.0.0.1:${port}`));
        status = 200;
        expect(await run(argv)).toBe(0);
        status = 503;
        expect(await run(argv)).toBe(1);
      }
      const closed = services.server.healthcheck!.test.slice(1).map((a) => a.replace('localhost:3001', '127.0.0.1:1'));
      expect(await run(closed)).toBe(1);
    } finally {
      fake.closeAllConnections();
      await new Promise((r) => fake.close(r));
    }
  });
});
