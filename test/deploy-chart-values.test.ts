/**
 * The chart rendered with values other than the defaults (PostgreSQL, existing Secrets and claims, no
 * controller, kind, another release name) and its `helm test` pod, whose script runs for real against
 * local HTTP servers. Shared helpers: deploy-chart-helpers.ts.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { Pod, Secret, Service } from 'kubernetes-models/v1';
import { renderChart } from './deploy-helm-renderer';
import {
  CHART,
  MODELS,
  ROOT,
  container,
  envOf,
  find,
  podSpec,
  readYaml,
  render,
  workloads,
} from './deploy-chart-helpers';

describe('helm test pod', () => {
  test('its script exits 0 when server and dashboard answer /healthz, 1 when one does not', async () => {
    const pod = find(render(), 'Pod', 'botfleet-test-connection') as unknown as Pod;
    expect(pod.metadata?.annotations?.['helm.sh/hook']).toBe('test');
    const c = pod.spec!.containers[0];
    const urls = c.env!.find((e) => e.name === 'CHECK_URLS')!.value!.split(' ');
    expect(urls).toEqual(['http://botfleet-server:3001/healthz', 'http://botfleet-dashboard:3002/healthz']);
    const status: Record<string, number> = { '/server/healthz': 200, '/dashboard/healthz': 200 };
    const fake = http.createServer((req, res) => {
      res.statusCode = status[req.url ?? ''] ?? 404;
      res.end();
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    const run = () =>
      new Promise<number | null>((resolve) => {
        const env = { PATH: process.env.PATH ?? '', CHECK_URLS: `${base}/server/healthz ${base}/dashboard/healthz` };
        spawn(process.execPath, c.command!.slice(1), { env, stdio: 'ignore' }).on('exit', resolve);
      });
    try {
      expect(c.command![0]).toBe('node');
      expect(await run()).toBe(0);
      status['/dashboard/healthz'] = 503;
      expect(await run()).toBe(1);
    } finally {
      fake.closeAllConnections();
      await new Promise((r) => fake.close(r));
    }
  });
});

describe('chart rendered with other values', () => {
  test('more than one server replica without PostgreSQL fails to render', () => {
    expect(() => render({ values: { server: { replicas: 3 } } })).toThrow(/needs PostgreSQL/);
  });

  test('ci/postgres-values.yaml: N server replicas with DATABASE_URL from the existing Secret, NetworkPolicies', () => {
    const docs = render({ values: readYaml(path.join(CHART, 'ci', 'postgres-values.yaml')) });
    const sts = find(docs, 'StatefulSet', 'botfleet-server') as unknown as StatefulSet;
    expect(sts.spec?.replicas).toBe(3);
    expect(envOf(sts.spec!.template.spec!.containers[0]).get('DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({
      name: 'botfleet-db',
      key: 'database-url',
    });
    expect(docs.filter((d) => d.kind === 'Secret').map((d) => d.metadata.name)).toEqual(['botfleet-admin-token']);
    const policies = docs.filter((d) => d.kind === 'NetworkPolicy');
    expect(policies.map((p) => p.metadata.name).sort()).toEqual([
      'botfleet-bots',
      'botfleet-controller',
      'botfleet-dashboard',
      'botfleet-server',
    ]);
    for (const p of policies) expect(() => new NetworkPolicy(p as never).validate()).not.toThrow();
    // Each policy selects pods that exist.
    const podLabels = workloads(docs).map((w) => (w.spec as Deployment['spec'])!.template.metadata!.labels!);
    for (const p of policies) {
      const sel = (p as unknown as NetworkPolicy).spec!.podSelector.matchLabels!;
      expect(podLabels.some((l) => Object.entries(sel).every(([k, v]) => l[k] === v))).toBe(true);
    }
  });

  test('postgresql.url: the chart stores it in its own Secret and the server reads it from there', () => {
    const url = 'postgres://bot:pw@db:5432/botfleet';
    const docs = render({ values: { postgresql: { url }, server: { replicas: 2 } } });
    const s = find(docs, 'Secret', 'botfleet-postgresql') as unknown as Secret;
    expect(Buffer.from(s.data!['database-url'], 'base64').toString()).toBe(url);
    const env = envOf(container(find(docs, 'StatefulSet', 'botfleet-server')));
    expect(env.get('DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({
      name: 'botfleet-postgresql',
      key: 'database-url',
    });
    // Several servers with a volume each split the datalake after a failover: NOTES says so.
    const notes = (values: Record<string, unknown>) => renderChart(CHART, { values }).get('NOTES.txt')!;
    expect(notes({ postgresql: { url }, server: { replicas: 2 } })).toContain('ReadWriteMany');
    expect(
      notes({ postgresql: { url }, server: { replicas: 2, persistence: { existingClaim: 'rwx' } } }),
    ).not.toContain('ReadWriteMany');
    expect(notes({})).not.toContain('ReadWriteMany');
  });

  test('adminToken.existingSecret: no Secret is generated and every pod reads yours', () => {
    const docs = render({ values: { adminToken: { existingSecret: 'my-token', secretKey: 'token' } } });
    expect(docs.filter((d) => d.kind === 'Secret')).toEqual([]);
    for (const w of workloads(docs)) {
      const e = envOf(container(w)).get('ADMIN_TOKEN');
      if (e) expect(e.valueFrom?.secretKeyRef).toEqual({ name: 'my-token', key: 'token' });
    }
  });

  test('controller disabled: bots get a fixed replica count and nothing gets API rights', () => {
    const docs = render({ values: { controller: { enabled: false }, bots: { replicas: 7 } } });
    expect((find(docs, 'Deployment', 'botfleet-bots').spec as { replicas: number }).replicas).toBe(7);
    expect(docs.filter((d) => /Role|ServiceAccount/.test(d.kind) || d.metadata.name.endsWith('-controller'))).toEqual(
      [],
    );
    for (const w of workloads(docs)) expect(podSpec(w).automountServiceAccountToken).toBe(false);
  });

  test('existingClaim replaces the per-pod claim; other names follow the release', () => {
    const docs = render({
      releaseName: 'prod',
      namespace: 'jobs',
      values: { server: { persistence: { existingClaim: 'shared-data' } } },
    });
    const sts = find(docs, 'StatefulSet', 'prod-botfleet-server') as unknown as StatefulSet;
    expect(sts.spec?.volumeClaimTemplates).toBeUndefined();
    expect(sts.spec?.template.spec?.volumes).toEqual(
      expect.arrayContaining([{ name: 'data', persistentVolumeClaim: { claimName: 'shared-data' } }]),
    );
    expect(
      (find(docs, 'RoleBinding', 'prod-botfleet-controller') as unknown as RoleBinding).subjects?.[0],
    ).toMatchObject({ namespace: 'jobs' });
    expect((find(docs, 'Role', 'prod-botfleet-controller') as unknown as Role).rules?.[0].resourceNames).toEqual([
      'prod-botfleet-bots',
    ]);
    for (const d of docs) expect(() => new MODELS[d.kind](d as never).validate()).not.toThrow();
  });

  test('kind values: the dashboard NodePort is the one kind-config.yaml maps to localhost:3002', () => {
    const docs = render({ values: readYaml(path.join(CHART, 'ci', 'kind-values.yaml')) });
    const svc = find(docs, 'Service', 'botfleet-dashboard') as unknown as Service;
    expect(svc.spec?.type).toBe('NodePort');
    const kind = readYaml(path.join(ROOT, 'kind-config.yaml')) as {
      nodes: { extraPortMappings?: { containerPort: number; hostPort: number }[] }[];
    };
    const mappings = kind.nodes.flatMap((n) => n.extraPortMappings ?? []);
    expect(mappings).toContainEqual(
      expect.objectContaining({ containerPort: svc.spec?.ports?.[0].nodePort, hostPort: 3002 }),
    );
    for (const w of workloads(docs))
      expect(container(w)).toMatchObject({ image: 'botfleet:dev', imagePullPolicy: 'Never' });
    const notes = renderChart(CHART, { values: readYaml(path.join(CHART, 'ci', 'kind-values.yaml')) }).get(
      'NOTES.txt',
    )!;
    expect(notes).toContain('http://localhost:3002');
    expect(notes).toContain('logs -f -l app.kubernetes.io/instance=botfleet,app.kubernetes.io/component=bot');
  });

  test('large numbers reach the pods as plain integers, not Go float notation', () => {
    const docs = render({ values: { server: { populateIntervalMs: 3600000, botDownAfterMs: 1200000 } } });
    const env = envOf(container(find(docs, 'StatefulSet', 'botfleet-server')));
    expect(env.get('POPULATE_INTERVAL_MS')?.value).toBe('3600000');
    expect(env.get('BOT_DOWN_AFTER_MS')?.value).toBe('1200000');
  });
});
