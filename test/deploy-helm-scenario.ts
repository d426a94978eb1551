/**
 * What a user does with the chart, on the local Kubernetes (host network, the image built by
 * `make image`, charts/botfleet/ci/local-cluster-values.yaml): helm install until every pod is
 * Ready with three generated tokens in the chart's Secret, a stranger refused, helm test, the pods'
 * users, file systems and tokens (each only its roles'), a bot's `kubectl logs`, the dashboard's Add
 * Bot and scale control in Chromium, a drain-first scale-down while one bot runs a long job, a busy
 * bot removed by a scale to 0 handing its job back (pending, the attempt not counted) for another
 * bot to complete, the ConfigMap deleted under the controller, helm upgrade keeping the
 * controller's count and the tokens, helm uninstall leaving no pod. deploy-helm-sqlite.test.ts and deploy-helm-postgres.test.ts run it.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { http, note, openDashboard, pressAddBot, run, scaleInDashboard, waitUntil } from './deploy-helpers';
import { TEST_NAMESPACE_LABEL } from './deploy-kube';
import { BOT_NODE_FLAGS } from '../bot/node-flags';
import { SERVER_NODE_FLAGS } from '../server/node-flags';
import { testTime } from './helpers/time';

export interface HelmScenario {
  /** Names the namespace and the notes. */
  name: string;
  /** -f and --set arguments on top of the chart's defaults. */
  values: string[];
  /** Where server replica i listens (hostNetwork: server.port + i). */
  serverPorts: number[];
  dashboardPort: number;
}

const RELEASE = 'botfleet';
const CHART = 'charts/botfleet';
const CONTROLLER = 'http://127.0.0.1:3003';
const STAGE_MS = 300_000;
const TOKEN_KEYS = { admin: 'admin-token', bot: 'bot-token', viewer: 'viewer-token' } as const;
type Role = keyof typeof TOKEN_KEYS;
/** What each pod may hold: only the tokens of the roles it uses. */
const POD_TOKENS: Record<string, string[]> = {
  server: ['ADMIN_TOKEN', 'BOT_TOKEN', 'VIEWER_TOKEN'],
  controller: ['ADMIN_TOKEN', 'BOT_TOKEN', 'VIEWER_TOKEN'],
  dashboard: ['ADMIN_TOKEN', 'VIEWER_TOKEN'],
  bot: ['BOT_TOKEN'],
};

interface PodInfo {
  name: string;
  component: string;
  ready: boolean;
  created: string;
}

export function helmScenario(s: HelmScenario): void {
  const ns = `botfleet-${s.name}-${randomBytes(3).toString('hex')}`;
  const server = `http://127.0.0.1:${s.serverPorts[0]}`;
  const dashboard = `http://127.0.0.1:${s.dashboardPort}`;
  const stage = `helm ${s.name}`;
  /** The Secret's tokens, read after install. */
  let tokens: Record<Role, string>;
  let installed = false;
  let browser: Browser | undefined;
  let page: Page;

  const kubectl = (...args: string[]) => run('kubectl', ['--namespace', ns, ...args]);
  const helm = (...args: string[]) => run('helm', [...args, '--namespace', ns], { timeoutMs: STAGE_MS });
  const values = s.values;

  async function pods(): Promise<PodInfo[]> {
    const r = await kubectl('get', 'pods', '-o', 'json');
    const items = (JSON.parse(r.stdout) as { items: PodJson[] }).items;
    return items
      .filter((p) => !p.metadata.deletionTimestamp)
      .map((p) => ({
        name: p.metadata.name,
        component: p.metadata.labels?.['app.kubernetes.io/component'] ?? '',
        ready: p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
        created: p.metadata.creationTimestamp,
      }));
  }
  const bots = async () => (await pods()).filter((p) => p.component === 'bot');
  const readyBots = (n: number) =>
    waitUntil(`${n} ready bot pods`, async () => {
      const b = await bots();
      return b.length === n && b.every((p) => p.ready) ? b : undefined;
    });
  const podOf = async (component: string) => (await pods()).find((p) => p.component === component)!.name;
  const api = <T>(method: string, url: string, body?: unknown) => http<T>(method, url, { token: tokens.admin, body });
  const readTokens = async (): Promise<Record<Role, string>> => {
    const r = await kubectl('get', 'secret', `${RELEASE}-tokens`, '-o', 'json');
    const data = (JSON.parse(r.stdout) as { data: Record<string, string> }).data;
    const decode = (role: Role) => Buffer.from(data[TOKEN_KEYS[role]] ?? '', 'base64').toString();
    return { admin: decode('admin'), bot: decode('bot'), viewer: decode('viewer') };
  };

  beforeAll(async () => {
    if (process.env.BOTFLEET_CLUSTER_DIR) await run(path.join(process.env.BOTFLEET_CLUSTER_DIR, 'pv'), []);
    await run('kubectl', ['create', 'namespace', ns]);
    await run('kubectl', ['label', 'namespace', ns, `${TEST_NAMESPACE_LABEL}=true`]);
  }, testTime(60_000));

  afterAll(async () => {
    await browser?.close();
    if (installed) await helm('uninstall', RELEASE, '--wait').catch(() => undefined);
    await run('kubectl', ['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
  }, testTime(STAGE_MS));

  test(
    'helm install: every pod becomes Ready; the Secret holds three distinct generated tokens; a stranger gets 401',
    async () => {
      await helm('install', RELEASE, CHART, ...values, '--wait', '--timeout', '5m');
      installed = true;
      tokens = await readTokens();
      // The bots Deployment starts at 1 (it has no replicas while the controller owns them); the
      // controller's first pass then scales it to bots.replicas (2).
      const all = await waitUntil('every pod Ready, 2 of them bots', async () => {
        const p = await pods();
        return p.every((x) => x.ready) && p.filter((x) => x.component === 'bot').length === 2 ? p : undefined;
      });
      const count = (c: string) => all.filter((p) => p.component === c).length;
      expect([count('server'), count('dashboard'), count('controller'), count('bot')]).toEqual([
        s.serverPorts.length,
        1,
        1,
        2,
      ]);
      note(`${stage}: pods after helm install\n${(await kubectl('get', 'pods', '-o', 'wide')).stdout}`);
      for (const t of Object.values(tokens)) expect(t).toMatch(/^[A-Za-z0-9]{40}$/);
      expect(new Set(Object.values(tokens)).size).toBe(3);
      expect((await http('GET', `${server}/jobs`)).status).toBe(401);
      expect((await http('GET', `${server}/jobs`, { token: tokens.bot })).status).toBe(403);
      expect((await http('GET', `${server}/jobs`, { token: tokens.viewer })).status).toBe(200);
    },
    testTime(STAGE_MS),
  );

  test(
    'helm test: every server replica and the dashboard answer /healthz',
    async () => {
      const r = await helm('test', RELEASE, '--logs');
      for (const port of [...s.serverPorts, s.dashboardPort])
        expect(r.stdout).toContain(`http://127.0.0.1:${port}/healthz 200`);
      note(`${stage}: helm test\n${r.stdout.trim().split('\n').slice(-6).join('\n')}`);
    },
    testTime(STAGE_MS),
  );

  test(
    "every pod runs read-only as uid 10001 with only its roles' tokens, server and bots with their V8 flags; only the controller has a service-account token",
    async () => {
      for (const component of ['server', 'dashboard', 'controller', 'bot']) {
        const pod = await podOf(component);
        expect((await kubectl('exec', pod, '--', 'id', '-u')).stdout.trim()).toBe('10001');
        const write = await run('kubectl', ['--namespace', ns, 'exec', pod, '--', 'touch', '/app/x'], {
          allowFail: true,
        });
        expect(write.stderr).toContain('Read-only file system');
        const token = await run(
          'kubectl',
          ['--namespace', ns, 'exec', pod, '--', 'ls', '/var/run/secrets/kubernetes.io/serviceaccount/token'],
          { allowFail: true },
        );
        expect(token.code === 0).toBe(component === 'controller');
        // Names only: the values stay inside the pod.
        const held = await kubectl('exec', pod, '--', 'sh', '-c', 'env | grep -o "^[A-Z]*_TOKEN=" | tr -d = | sort');
        expect(held.stdout.split('\n').filter(Boolean)).toEqual(POD_TOKENS[component]);
        // bin/botfleet execs node, which is then the container's first process.
        const argv = (await kubectl('exec', pod, '--', 'cat', '/proc/1/cmdline')).stdout.split('\0');
        const flags = { server: SERVER_NODE_FLAGS, bot: BOT_NODE_FLAGS }[component] ?? [];
        expect(argv.slice(0, 1 + flags.length)).toEqual(['node', ...flags]);
      }
    },
    testTime(STAGE_MS),
  );

  test(
    'kubectl logs of a bot shows it registering, claiming, starting and finishing a job by id',
    async () => {
      // Through the last server replica: with several, they share one database.
      const via = `http://127.0.0.1:${s.serverPorts.at(-1)}`;
      const enqueued = await api<{ id: string }>('POST', `${via}/jobs`, {
        type: 'simulated',
        payload: { durationMs: 500 },
      });
      expect(enqueued.status).toBe(201);
      const job = await waitUntil('the job completed', async () => {
        const j = await api<{ status: string; botId: string }>('GET', `${server}/jobs/${enqueued.body.id}`);
        return j.body.status === 'completed' ? j.body : undefined;
      });
      const logs = (await kubectl('logs', job.botId)).stdout.split('\n').filter(Boolean);
      const events = logs.flatMap((l) => {
        try {
          return [JSON.parse(l) as { event?: string; jobId?: string; botId?: string; time: string }];
        } catch {
          return [];
        }
      });
      expect(events.find((e) => e.event === 'registered')).toMatchObject({ botId: job.botId });
      const ofJob = events.filter((e) => e.jobId === enqueued.body.id).map((e) => e.event);
      // The job's own log lines ("job log") come between started and its end.
      expect(ofJob.filter((e) => e !== 'job log')).toEqual(['claimed', 'started', 'completed']);
      note(
        `${stage}: kubectl logs ${job.botId} (job ${enqueued.body.id} enqueued through ${via})\n` +
          events
            .filter((e) => e.event === 'registered' || e.jobId === enqueued.body.id)
            .map((e) => `  ${e.time} ${e.event} ${e.jobId ?? ''}`)
            .join('\n'),
      );
    },
    testTime(STAGE_MS),
  );

  test(
    "the dashboard's Add Bot and scale control change the number of bot pods through the controller",
    async () => {
      ({ browser, page } = await openDashboard(dashboard, tokens.admin));
      const before = (await bots()).length;
      expect(await pressAddBot(page, dashboard)).toMatch(/^Added a bot: the controller now wants 3/);
      await readyBots(3);
      expect(await scaleInDashboard(page, dashboard, 4)).toMatch(/^Scaling to 4 bots/);
      await readyBots(4);
      note(`${stage}: bot pods ${before} -> Add Bot -> 3 -> scale to 4 -> 4`);
    },
    testTime(STAGE_MS),
  );

  test(
    'scale-down from the dashboard removes idle bots first; the busy bot keeps its job',
    async () => {
      const long = await api<{ id: string }>('POST', `${server}/jobs`, {
        type: 'simulated',
        payload: { durationMs: 15_000 },
        priority: 100,
      });
      expect(long.status).toBe(201);
      const busy = await waitUntil('the long job running', async () => {
        const j = await api<{ status: string; botId: string }>('GET', `${server}/jobs/${long.body.id}`);
        return j.body.status === 'running' ? j.body.botId : undefined;
      });
      // No new claims, so the other bots go idle and stay so.
      expect((await api('POST', `${server}/queue/pause`)).status).toBe(200);
      try {
        const before = await readyBots(4);
        await waitUntil('the other bots idle', async () => {
          const r = await api<{ items: { id: string; currentJobId: string | null }[] }>('GET', `${server}/bots`);
          const held = r.body.items.filter((b) => before.some((p) => p.name === b.id) && b.currentJobId !== null);
          return held.length === 1 && held[0].id === busy;
        });
        expect(await scaleInDashboard(page, dashboard, 1)).toMatch(/^Scaling to 1 bots/);
        const after = await readyBots(1);
        expect(after.map((p) => p.name)).toEqual([busy]);
        const done = await waitUntil(
          'the long job finished',
          async () => {
            const j = await api<{ status: string; botId: string; attempts: number }>(
              'GET',
              `${server}/jobs/${long.body.id}`,
            );
            return j.body.status === 'running' ? undefined : j.body;
          },
          60_000,
        );
        expect(done).toMatchObject({ status: 'completed', botId: busy, attempts: 1 });
        expect((await bots()).map((p) => p.name)).toEqual([busy]);
        // On Kubernetes 1.20 the ReplicaSet alone removes the newest pods first and keeps the oldest.
        const age = [...before].sort((a, b) => a.created.localeCompare(b.created)).findIndex((p) => p.name === busy);
        note(
          `${stage}: bot pods before scale-down ${before.length} (${before.map((p) => p.name).join(', ')}; ` +
            `busy ${busy}, ${age === 0 ? 'the oldest' : `not the oldest (age rank ${age + 1} of ${before.length})`}), ` +
            `after ${after.length} (${after[0].name}); job ${long.body.id} ${done.status} by ${done.botId}, ` +
            `attempt ${done.attempts}`,
        );
      } finally {
        await api('POST', `${server}/queue/resume`);
      }
    },
    testTime(STAGE_MS),
  );

  test(
    'a scale to 0 removes the busy bot: it hands its job back (pending, attempt not counted) and another bot completes it',
    async () => {
      const job = await api<{ id: string }>('POST', `${server}/jobs`, {
        type: 'simulated',
        payload: { durationMs: 15_000 },
        priority: 100,
      });
      expect(job.status).toBe(201);
      const busy = await waitUntil('the job running', async () => {
        const j = await api<{ status: string; botId: string }>('GET', `${server}/jobs/${job.body.id}`);
        return j.body.status === 'running' ? j.body.botId : undefined;
      });
      expect((await api('PUT', `${CONTROLLER}/scale`, { replicas: 0 })).status).toBe(200);
      // The pod gets SIGTERM; after bots.shutdownGraceMs (2 s in the test values) the bot hands the
      // job back. The ReplicaSet may start a replacement pod between the controller's pod deletion
      // and its scale patch, which can claim the job for a moment: the events tell the whole story.
      const jobNow = async () => (await api<JobWithEvents>('GET', `${server}/jobs/${job.body.id}`)).body;
      const back = await waitUntil('the job handed back by the stopped bot', async () =>
        (await jobNow()).events.find((e) => e.note === 'handed back' && e.botId === busy),
      );
      expect(back).toMatchObject({ from: 'running', to: 'pending', attempt: 1 });
      await waitUntil('no bot pod left', async () => (await bots()).length === 0, 120_000);
      const waiting = await jobNow();
      expect((await api('PUT', `${CONTROLLER}/scale`, { replicas: 1 })).status).toBe(200);
      await readyBots(1);
      const done = await waitUntil(
        'the job completed by another bot',
        async () => {
          const j = await jobNow();
          return j.status === 'completed' ? j : undefined;
        },
        90_000,
      );
      // MAX_ATTEMPTS is 1: had the stopped bot's attempt counted, the job could not run again.
      expect(done).toMatchObject({ status: 'completed', attempts: 1 });
      expect(done.botId).not.toBe(busy);
      expect(done.events.filter((e) => e.to === 'failed')).toEqual([]);
      note(
        `${stage}: scale to 0 stopped ${busy} inside job ${job.body.id}; with no bot left the job was ` +
          `${waiting.status} (attempts ${waiting.attempts}); completed by ${done.botId} in attempt ${done.attempts}\n` +
          done.events.map((e) => `  ${e.at} ${e.from ?? '-'} -> ${e.to} ${e.botId ?? ''} ${e.note ?? ''}`).join('\n'),
      );
    },
    testTime(STAGE_MS),
  );

  test(
    'the controller writes back its deleted ConfigMap, and helm upgrade keeps its replica count and the tokens',
    async () => {
      await kubectl('delete', 'configmap', `${RELEASE}-controller`);
      const data = await waitUntil('the ConfigMap written back', async () => {
        const r = await run('kubectl', ['--namespace', ns, 'get', 'configmap', `${RELEASE}-controller`, '-o', 'json'], {
          allowFail: true,
        });
        return r.code === 0 ? (JSON.parse(r.stdout) as { data: Record<string, string> }).data : undefined;
      });
      expect(data.replicas).toBe('1');
      const controllerBefore = await podOf('controller');
      // A changed controller setting, so the upgrade replaces the controller pod as well.
      const t0 = Date.now();
      await helm('upgrade', RELEASE, CHART, ...values, '--set', 'controller.reconcileIntervalMs=3000', '--wait');
      const upgradeMs = Date.now() - t0;
      const controllerAfter = await waitUntil('a new controller pod ready', async () => {
        const c = (await pods()).find((p) => p.component === 'controller');
        return c && c.ready && c.name !== controllerBefore ? c.name : undefined;
      });
      await waitUntil('the new controller reconciled', async () => {
        const r = await http<{ desired: number; current: number }>('GET', `${CONTROLLER}/scale`, {
          token: tokens.viewer,
        });
        return r.body.desired === 1 && r.body.current === 1;
      });
      await new Promise((r) => setTimeout(r, 4000)); // a resync of the new controller
      const left = await readyBots(1);
      const cm = await kubectl('get', 'configmap', `${RELEASE}-controller`, '-o', 'jsonpath={.data.replicas}');
      expect(cm.stdout).toBe('1');
      expect(await readTokens()).toEqual(tokens);
      note(
        `${stage}: helm upgrade (${(upgradeMs / 1000).toFixed(1)} s) replaced the controller (${controllerBefore} -> ` +
          `${controllerAfter}); bot pods still ${left.length}, ConfigMap replicas ${cm.stdout}`,
      );
    },
    testTime(STAGE_MS),
  );

  test(
    'helm uninstall leaves no pod',
    async () => {
      await helm('uninstall', RELEASE, '--wait');
      installed = false;
      await waitUntil('no pod left', async () => (await pods()).length === 0, 120_000);
      note(`${stage}: helm uninstall left no pod in ${ns}`);
    },
    testTime(STAGE_MS),
  );
}

interface JobWithEvents {
  status: string;
  botId: string | null;
  attempts: number;
  events: { at: string; from: string | null; to: string; botId: string | null; attempt: number; note: string | null }[];
}

interface PodJson {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string; creationTimestamp: string };
  status: { conditions?: { type: string; status: string }[] };
}
