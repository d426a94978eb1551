/**
 * Docker Compose for real, on host networking (docker-compose.yml + docker-compose.host.yml, as
 * `make up COMPOSE_NETWORK=host`): `make up` writes the env file with three random tokens when it
 * is missing (here a fresh one in a temporary directory, ENV_FILE, so a developer's .env is never
 * touched) and never changes it afterwards; each container gets only its roles' tokens; a stranger
 * gets 401; every container runs the image read-only as uid 10001; a job goes from the scheduler to
 * a bot to the datalake volume; `--scale bot=5` gives 5 bots with 5 distinct ids in the dashboard;
 * the dashboard's Add Bot (in Chromium) makes the controller start one more; `make down` leaves no
 * container. Needs the image (make image) and ports 3001-3003.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  dashboardBots,
  dashboardSession,
  http,
  note,
  openDashboard,
  pressAddBot,
  run,
  waitUntil,
  type BotRow,
} from './deploy-helpers';
import { testTime } from './helpers/time';

const PROJECT = 'botfleet-deploy-test';
const IMAGE = process.env.BOTFLEET_IMAGE || 'botfleet:dev';
const SERVER = 'http://127.0.0.1:3001';
const DASHBOARD = 'http://127.0.0.1:3002';
const CONTROLLER = 'http://127.0.0.1:3003';
const ENV_FILE = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'botfleet-compose-')), '.env');
// Read by docker-compose.yml: quick batches and jobs that always succeed. The tokens come from
// ENV_FILE only (a variable of the shell would win over the file).
const ENV = {
  COMPOSE_PROJECT_NAME: PROJECT,
  BOTFLEET_IMAGE: IMAGE,
  ADMIN_TOKEN: undefined,
  BOT_TOKEN: undefined,
  VIEWER_TOKEN: undefined,
  POPULATE_INTERVAL_MS: '3000',
  BATCH_SIZE: '2',
  PROCESSING_DURATION_MS: '1000',
  FAILURE_RATE: '0',
  HEARTBEAT_INTERVAL_MS: '2000',
};
const COMPOSE = ['-f', 'docker-compose.yml', '-f', 'docker-compose.host.yml'];
const make = (...args: string[]) =>
  run('make', ['-s', ...args, 'COMPOSE_NETWORK=host', `IMAGE=${IMAGE}`, `ENV_FILE=${ENV_FILE}`], {
    env: ENV,
    timeoutMs: 300_000,
  });
const compose = (...args: string[]) =>
  run('docker-compose', ['--env-file', ENV_FILE, ...COMPOSE, ...args], { env: ENV });
const TOKEN_NAMES = ['ADMIN_TOKEN', 'BOT_TOKEN', 'VIEWER_TOKEN'] as const;
/** What each service may hold: only the tokens of the roles it uses. */
const SERVICE_TOKENS: Record<string, string[]> = {
  server: ['ADMIN_TOKEN', 'BOT_TOKEN', 'VIEWER_TOKEN'],
  controller: ['ADMIN_TOKEN', 'BOT_TOKEN', 'VIEWER_TOKEN'],
  dashboard: ['ADMIN_TOKEN', 'VIEWER_TOKEN'],
  bot: ['BOT_TOKEN'],
};
/** The env file as make up wrote it, and its tokens. */
let envText = '';
let tokens: Record<(typeof TOKEN_NAMES)[number], string>;

async function containers(all = false): Promise<{ id: string; service: string }[]> {
  const r = await run('docker', [
    'ps',
    ...(all ? ['-a'] : []),
    '--filter',
    `label=com.docker.compose.project=${PROJECT}`,
    '--format',
    '{{.ID}} {{.Label "com.docker.compose.service"}}',
  ]);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [id, service] = l.split(' ');
      return { id, service };
    });
}

const containerBots = (bots: BotRow[]) => bots.filter((b) => !b.id.startsWith('controller-bot-'));

beforeAll(async () => {
  // A run that was interrupted may have left its containers. make down writes the env file too, so
  // it is removed again: make up must find it missing.
  await make('down', 'V=1');
  fs.rmSync(ENV_FILE);
}, testTime(120_000));

afterAll(async () => {
  await make('down', 'V=1').catch((err: Error) => note(`compose clean-up: ${err.message}`));
  fs.rmSync(path.dirname(ENV_FILE), { recursive: true, force: true });
}, testTime(120_000));

test(
  'make up writes the missing env file: three distinct random tokens of at least 32 characters, readable by its owner only',
  async () => {
    expect(fs.existsSync(ENV_FILE)).toBe(false);
    await make('up', 'BOTS=3');
    envText = fs.readFileSync(ENV_FILE, 'utf8');
    const values = Object.fromEntries(
      envText
        .split('\n')
        .map((l) => /^([A-Z_]+)=(.*)$/.exec(l))
        .filter((m) => m !== null)
        .map((m) => [m[1], m[2]]),
    );
    expect(Object.keys(values).sort()).toEqual([...TOKEN_NAMES].sort());
    for (const name of TOKEN_NAMES) expect(values[name]).toMatch(/^[0-9a-f]{32,}$/);
    expect(new Set(Object.values(values)).size).toBe(3);
    expect(fs.statSync(ENV_FILE).mode & 0o777).toBe(0o600);
    tokens = values as typeof tokens;
    note(
      `compose stage: make up wrote ${ENV_FILE} (${TOKEN_NAMES.map((n) => `${n}: ${values[n].length} chars`).join(', ')})`,
    );
  },
  testTime(600_000),
);

test(
  "make up: server, dashboard, controller and 3 bots, each read-only as uid 10001 with only its roles' tokens; a stranger gets 401",
  async () => {
    const services = await waitUntil('every service running', async () => {
      const c = await containers();
      return c.length === 6 ? c : undefined;
    });
    expect(services.map((c) => c.service).sort()).toEqual(['bot', 'bot', 'bot', 'controller', 'dashboard', 'server']);
    await waitUntil('server, dashboard and controller healthy', async () => {
      for (const url of [SERVER, DASHBOARD, CONTROLLER])
        if ((await http('GET', `${url}/healthz`)).status !== 200) return;
      return true;
    });
    for (const c of services) {
      const inspect = await run('docker', [
        'inspect',
        '--format',
        '{{.HostConfig.ReadonlyRootfs}} {{.Config.User}}',
        c.id,
      ]);
      expect(inspect.stdout.trim()).toBe('true 10001:10001');
      expect((await run('docker', ['exec', c.id, 'id', '-u'])).stdout.trim()).toBe('10001');
      const write = await run('docker', ['exec', c.id, 'touch', '/app/x'], { allowFail: true });
      expect(write.code).not.toBe(0);
      expect(write.stderr).toContain('Read-only file system');
      // Names only: the values stay inside the container.
      const held = await run('docker', ['exec', c.id, 'sh', '-c', 'env | grep -o "^[A-Z]*_TOKEN=" | tr -d = | sort']);
      expect(held.stdout.split('\n').filter(Boolean)).toEqual(SERVICE_TOKENS[c.service]);
    }
    expect((await http('GET', `${SERVER}/jobs`)).status).toBe(401);
    expect((await http('GET', `${SERVER}/jobs`, { token: 'not-a-token-of-this-deployment' })).status).toBe(401);
    expect((await http('GET', `${SERVER}/jobs`, { token: tokens.BOT_TOKEN })).status).toBe(403);
    expect((await http('GET', `${SERVER}/jobs`, { token: tokens.VIEWER_TOKEN })).status).toBe(200);
    const ps = await compose('ps');
    note(`compose stage: containers after make up\n${ps.stdout}`);
  },
  testTime(600_000),
);

test(
  'a scheduled job goes to a bot and into the datalake on the server volume',
  async () => {
    const job = await waitUntil('a scheduled job completed by a bot', async () => {
      const r = await http<{ items: { id: string; botId: string }[] }>(
        'GET',
        `${SERVER}/jobs?status=completed&limit=1`,
        { token: tokens.VIEWER_TOKEN },
      );
      return r.body.items[0];
    });
    const server = (await containers()).find((c) => c.service === 'server')!;
    const line = await waitUntil('the job in the datalake', async () => {
      const r = await run('docker', ['exec', server.id, 'sh', '-c', 'cat /data/datalake/*.ndjson'], {
        allowFail: true,
      });
      return r.stdout.split('\n').find((l) => l.includes(job.id));
    });
    expect(JSON.parse(line)).toMatchObject({ jobId: job.id, botId: job.botId, status: 'completed' });
    note(`compose stage: job ${job.id} by bot ${job.botId} in /data/datalake: ${line.slice(0, 200)}`);
  },
  testTime(120_000),
);

test(
  'docker-compose up --scale bot=5: five bot containers, five distinct bot ids in the dashboard',
  async () => {
    await compose('up', '-d', '--no-build', '--no-recreate', '--scale', 'bot=5');
    const viewer = await dashboardSession(DASHBOARD, tokens.VIEWER_TOKEN);
    const bots = await waitUntil('5 container bots alive in the dashboard', async () => {
      const b = containerBots(await dashboardBots(viewer));
      return b.length === 5 ? b : undefined;
    });
    expect((await containers()).filter((c) => c.service === 'bot')).toHaveLength(5);
    expect(new Set(bots.map((b) => b.id)).size).toBe(5);
    note(`compose stage: bots in the dashboard after --scale bot=5: ${bots.map((b) => b.id).join(', ')}`);
  },
  testTime(180_000),
);

test(
  "the dashboard's Add Bot (Chromium) makes the controller run one more bot",
  async () => {
    const viewer = await dashboardSession(DASHBOARD, tokens.VIEWER_TOKEN);
    const before = await dashboardBots(viewer);
    const { browser, page } = await openDashboard(DASHBOARD, tokens.ADMIN_TOKEN);
    try {
      expect(await pressAddBot(page, DASHBOARD)).toMatch(/^Added a bot: the controller now wants 1/);
    } finally {
      await browser.close();
    }
    const after = await waitUntil('the controller’s bot in the dashboard', async () => {
      const b = await dashboardBots(viewer);
      return b.some((x) => x.id === 'controller-bot-1') ? b : undefined;
    });
    expect((await http('GET', `${CONTROLLER}/scale`, { token: tokens.VIEWER_TOKEN })).body).toMatchObject({
      driver: 'process',
      desired: 1,
      current: 1,
    });
    note(`compose stage: bots before Add Bot ${before.length}, after ${after.length} (+ controller-bot-1)`);
  },
  testTime(180_000),
);

test(
  'make down leaves no container and the env file as it was; the datalake stays in its volume until make down V=1',
  async () => {
    await make('down');
    expect(await containers(true)).toEqual([]);
    expect(fs.readFileSync(ENV_FILE, 'utf8')).toBe(envText);
    const volume = `${PROJECT}_server-data`;
    const kept = await run('docker', [
      'run',
      '--rm',
      '--network',
      'none',
      '-v',
      `${volume}:/data:ro`,
      IMAGE,
      'sh',
      '-c',
      'cat /data/datalake/*.ndjson | wc -l',
    ]);
    expect(Number(kept.stdout.trim())).toBeGreaterThan(0);
    await make('down', 'V=1');
    const volumes = await run('docker', [
      'volume',
      'ls',
      '-q',
      '--filter',
      `label=com.docker.compose.project=${PROJECT}`,
    ]);
    expect(volumes.stdout.trim()).toBe('');
    note(`compose stage: make down left no container; ${kept.stdout.trim()} datalake lines were in ${volume}`);
  },
  testTime(180_000),
);
