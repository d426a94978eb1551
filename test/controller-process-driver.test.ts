/**
 * End to end, for real: the job server (child process), the controller (child process, process
 * driver) and real bots (`bot/main.ts` children of the controller). Scale 0 → 3 → 1 with the bots
 * registering at the server; a bot killed behind the controller's back comes back; on scale-down
 * the idle bots go (and leave the server's registry) while the one running a long job survives;
 * SIGTERM stops every bot and exits 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  ADMIN_TOKEN,
  TOKENS_ENV,
  freePort,
  ROOT,
  startServer,
  tempDir,
  waitFor,
  type ServerProcess,
} from './helpers/server-process';
import { testTime } from './helpers/time';

const PREFIX = 'e2e';
let server: ServerProcess;
let controller: ChildProcess;
let controllerUrl: string;
let output = '';
let dir: string;

interface BotView {
  id: string;
  status: string;
  currentJobId: string | null;
}

async function req(url: string, method = 'GET', body?: unknown) {
  const res = await fetch(url, {
    method,
    headers: {
      Authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: res.status === 204 ? null : ((await res.json()) as Record<string, unknown>) };
}

const scale = async () =>
  (await req(`${controllerUrl}/scale`)).body as { driver: string; desired: number; current: number; ready: number };
const serverBots = async () =>
  ((await req(`${server.url}/bots`)).body as { items: BotView[] }).items.filter((b) => b.id.startsWith(`${PREFIX}-`));

/** Controller log lines (pino JSON), not the bots' prefixed ones. */
function controllerLogs(msg: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    })
    .filter((o) => o.msg === msg);
}

/** Pids of the controller's children whose BOT_ID is `id` (Linux /proc). */
function botPids(id: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = fs.readFileSync(`/proc/${entry}/status`, 'utf8');
      if (Number(/PPid:\s+(\d+)/.exec(status)?.[1]) !== controller.pid) continue;
      const env = fs.readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (env.includes(`BOT_ID=${id}`)) pids.push(Number(entry));
    } catch {
      /* the process went away meanwhile */
    }
  }
  return pids;
}

beforeAll(async () => {
  if (!fs.existsSync(path.join(ROOT, 'bot', 'main.ts')))
    throw new Error('bot/main.ts is missing: this test runs real bots');
  dir = tempDir('controller-e2e-');
  server = await startServer();
  const port = await freePort();
  controllerUrl = `http://127.0.0.1:${port}`;
  controller = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'controller', 'main.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      CONTROLLER_PORT: String(port),
      CONTROLLER_HOST: '127.0.0.1',
      SERVER_URL: server.url,
      ...TOKENS_ENV,
      SCALE_DRIVER: 'process',
      BOT_REPLICAS: '0',
      CONTROLLER_STATE_FILE: path.join(dir, 'state.json'),
      RECONCILE_INTERVAL_MS: '300',
      BOT_ID_PREFIX: PREFIX,
      BOT_STOP_GRACE_MS: '8000',
      BOT_RESTART_BACKOFF_MS: '200',
      LOG_LEVEL: 'info',
      LOG_PRETTY: 'false',
      // Passed through to the bots:
      HEARTBEAT_INTERVAL_MS: '300',
      PROCESSING_DURATION_MS: '20000',
      FAILURE_RATE: '0',
      // Plain polling: a long-poll claim left open by the bot this test SIGKILLs could still be
      // handed a job after its death (the server does not notice the closed connection yet).
      CLAIM_WAIT_MS: '0',
      CLAIM_POLL_INTERVAL_MS: '200',
      BOT_SHUTDOWN_GRACE_MS: '1500',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  controller.stdout!.on('data', (d) => (output += d));
  controller.stderr!.on('data', (d) => (output += d));
  await waitFor(async () => {
    if (controller.exitCode !== null) throw new Error(`controller exited: ${output}`);
    return (await fetch(`${controllerUrl}/healthz`)).status === 200;
  }, 30000).catch((e) => {
    throw new Error(`${(e as Error).message}\n${output}`);
  });
}, testTime(60000));

afterAll(async () => {
  if (controller && controller.exitCode === null && controller.signalCode === null) {
    await new Promise((r) => {
      controller.once('exit', r);
      controller.kill('SIGKILL');
    });
  }
  await server?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('controller with the process driver, real server and real bots', () => {
  it('starts with no bots and saves that desired state', async () => {
    expect(await scale()).toMatchObject({ driver: 'process', desired: 0, current: 0, ready: 0 });
    // The first reconcile pass writes it; the controller serves /healthz before that pass ends.
    await waitFor(() => fs.existsSync(path.join(dir, 'state.json')), 10000);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8'))).toMatchObject({ replicas: 0 });
  });

  it(
    'scales 0 → 3: three bots start and register at the server',
    async () => {
      const r = await req(`${controllerUrl}/scale`, 'PUT', { replicas: 3 });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ desired: 3, current: 3 });
      await waitFor(async () => (await scale()).ready === 3, 30000, 200);
      expect((await serverBots()).map((b) => b.id).sort()).toEqual([`${PREFIX}-1`, `${PREFIX}-2`, `${PREFIX}-3`]);
      expect(output).toMatch(new RegExp(`^${PREFIX}-2 \\| \\{`, 'm')); // bot output, prefixed with its id
    },
    testTime(40000),
  );

  it(
    'restarts a bot that dies',
    async () => {
      const [pid] = botPids(`${PREFIX}-3`);
      expect(pid).toBeGreaterThan(0);
      const killedAt = Date.now();
      process.kill(pid, 'SIGKILL');
      await waitFor(
        () => controllerLogs('bot exited unexpectedly; restarting').some((l) => l.botId === `${PREFIX}-3`),
        10000,
        100,
      );
      await waitFor(() => botPids(`${PREFIX}-3`).some((p) => p !== pid), 10000, 100);
      expect((await scale()).current).toBe(3);
      // The new process is heard from (the dead one cannot be) and all three are ready again.
      await waitFor(
        async () => {
          const b = (await serverBots()).find((x) => x.id === `${PREFIX}-3`) as
            (BotView & { lastHeartbeatAt: string }) | undefined;
          return b !== undefined && Date.parse(b.lastHeartbeatAt) > killedAt + 50 && (await scale()).ready === 3;
        },
        15000,
        100,
      );
    },
    testTime(30000),
  );

  it(
    'scales 3 → 1 drain-first: the idle bots go, the bot running a long job survives',
    async () => {
      // Make the highest-numbered bot take the job (the others are frozen for a moment): without
      // drain-first, the driver's own order (highest number first) would stop exactly that one.
      const frozen = [...botPids(`${PREFIX}-1`), ...botPids(`${PREFIX}-2`)];
      expect(frozen).toHaveLength(2);
      for (const pid of frozen) process.kill(pid, 'SIGSTOP');
      let busy: BotView | undefined;
      try {
        await new Promise((r) => setTimeout(r, 150)); // claims already in flight from them get their 204 first
        expect((await req(`${server.url}/jobs/populate`, 'POST', { count: 1 })).status).toBe(201);
        await waitFor(
          async () => {
            busy = (await serverBots()).find((b) => b.currentJobId !== null);
            return busy !== undefined;
          },
          10000,
          50,
        );
      } finally {
        for (const pid of frozen) process.kill(pid, 'SIGCONT');
      }
      expect(busy!.id).toBe(`${PREFIX}-3`);
      const jobId = busy!.currentJobId!;
      const idle = [`${PREFIX}-1`, `${PREFIX}-2`, `${PREFIX}-3`].filter((id) => id !== busy!.id);

      const r = await req(`${controllerUrl}/scale`, 'PUT', { replicas: 1 });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ desired: 1, current: 1 });
      await waitFor(() => idle.every((id) => controllerLogs('bot stopped').some((l) => l.botId === id)), 15000, 100);
      expect(
        controllerLogs('stopping bot')
          .map((l) => l.botId)
          .sort(),
      ).toEqual([...idle].sort());
      for (const id of idle) expect(botPids(id)).toEqual([]);

      // The stopped bots are removed from the server's registry; the survivor keeps its job.
      await waitFor(async () => (await serverBots()).length === 1, 10000, 100);
      expect(await serverBots()).toEqual([
        expect.objectContaining({ id: busy!.id, status: 'busy', currentJobId: jobId }),
      ]);
      expect((await req(`${server.url}/jobs/${jobId}`)).body as { status: string; botId: string }).toMatchObject({
        status: 'running',
        botId: busy!.id,
      });
      expect(await scale()).toMatchObject({ desired: 1, current: 1, ready: 1 });
    },
    testTime(60000),
  );

  it(
    'stops every bot on SIGTERM and exits 0',
    async () => {
      const survivor = controllerLogs('bot started')
        .map((l) => String(l.botId))
        .find((id) => botPids(id).length > 0)!;
      const pids = botPids(survivor);
      expect(pids).toHaveLength(1);
      const code = await new Promise<number | null>((resolve) => {
        controller.once('exit', (c) => resolve(c));
        controller.kill('SIGTERM');
      });
      expect(code).toBe(0);
      expect(controllerLogs('bot stopped').some((l) => l.botId === survivor)).toBe(true);
      expect(() => process.kill(pids[0], 0)).toThrow(); // the bot process is gone
      expect(await serverBots()).toEqual([]);
    },
    testTime(30000),
  );
});
