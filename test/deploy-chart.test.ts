/**
 * The Helm chart (charts/botfleet), checked without helm or a cluster: values against the schema
 * (ajv), every `.Values` reference against values.yaml, and the chart rendered by the small renderer
 * in deploy-helm-renderer.ts with its default values (other values: deploy-chart-values.test.ts);
 * each rendered object is validated with
 * kubernetes-models and checked for the rules the issue sets (restricted pods, least-privilege Role,
 * token only from a Secret, replicas owned by the controller). The env each container gets is fed to
 * that component's real config loader, so a chart variable a component does not understand fails here.
 */
import fs from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import type { IEnvVar } from 'kubernetes-models/v1';
import { loadBotConfig } from '../bot/config';
import { BOT_NODE_FLAGS } from '../bot/node-flags';
import { loadConfig as loadControllerConfig } from '../controller/config';
import { CONFIGMAP_KEYS, fromConfigMapData } from '../controller/state/configmap-store';
import { loadDashboardConfig } from '../dashboard/config';
import { loadServerConfig } from '../server/config';
import { SERVER_NODE_FLAGS } from '../server/node-flags';
import { deepMerge, renderChart } from './deploy-helm-renderer';
import { typecheckManifests } from './deploy-k8s-typecheck';
import {
  CHART,
  CI_VALUES,
  MODELS,
  ROOT,
  VALUES,
  container,
  envForLoader,
  envOf,
  find,
  podOwners,
  podSpec,
  readYaml,
  render,
  workloads,
} from './deploy-chart-helpers';

describe('chart files and values', () => {
  test('Chart.yaml is a v2 application chart named botfleet with SemVer versions', () => {
    const chart = readYaml(path.join(CHART, 'Chart.yaml'));
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'botfleet', type: 'application' });
    expect(chart.version).toMatch(/^\d+\.\d+\.\d+(-[\w.]+)?$/);
    expect(String(chart.appVersion)).toMatch(/^\d+\.\d+\.\d+/);
    for (const f of ['values.schema.json', 'templates/_helpers.tpl', 'templates/NOTES.txt', '.helmignore']) {
      expect(fs.existsSync(path.join(CHART, f))).toBe(true);
    }
  });

  test('every key of values.yaml has a comment above it (Kubernetes objects excepted)', () => {
    const lines = fs.readFileSync(path.join(CHART, 'values.yaml'), 'utf8').split('\n');
    const uncommented: string[] = [];
    const skipDeeperThan: number[] = [];
    lines.forEach((line, i) => {
      const m = /^( *)([A-Za-z][\w.]*):/.exec(line);
      if (!m) return;
      const indent = m[1].length;
      while (skipDeeperThan.length && skipDeeperThan[skipDeeperThan.length - 1] >= indent) skipDeeperThan.pop();
      if (skipDeeperThan.length) return;
      let j = i - 1;
      while (j >= 0 && lines[j].trim() === '') j--;
      if (j < 0 || lines[j].indexOf('#') !== indent) uncommented.push(`${i + 1}: ${line.trim()}`);
      // These hold plain Kubernetes objects, documented by Kubernetes itself.
      if (['resources', 'podSecurityContext', 'containerSecurityContext'].includes(m[2])) skipDeeperThan.push(indent);
    });
    expect(uncommented).toEqual([]);
  });

  test('values.yaml and every ci/*.yaml pass values.schema.json; wrong values are rejected', () => {
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    const validate = ajv.compile(JSON.parse(fs.readFileSync(path.join(CHART, 'values.schema.json'), 'utf8')));
    const ok = (v: unknown) =>
      validate(v) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
    expect(ok(VALUES)).toEqual([]);
    expect(CI_VALUES.length).toBeGreaterThanOrEqual(2);
    for (const f of CI_VALUES) expect({ f, errors: ok(deepMerge(VALUES, readYaml(f))) }).toEqual({ f, errors: [] });
    // Helm adds `global` when the chart is another chart's dependency; a strict root must allow it.
    expect(ok(deepMerge(VALUES, { global: { imageRegistry: 'r.example.com' } }))).toEqual([]);
    const bad: Record<string, unknown>[] = [
      { server: { replicas: '3' } },
      { server: { replicas: 0 } },
      { bots: { failureRate: 1.5 } },
      { logLevel: 'verbose' },
      { image: { pullPolicy: 'Sometimes' } },
      { dashboard: { service: { type: 'NodePort', nodePort: 3002 } } },
      { controller: { autoscale: { jobsPerBot: 0 } } },
      { postgresql: { url: 'mysql://x' } },
      { adminToken: { existingSecret: 'Not_A_Name' } },
      { controler: { enabled: true } },
      { server: { persistance: { size: '1Gi' } } },
    ];
    for (const b of bad) expect({ b, valid: validate(deepMerge(VALUES, b)) }).toEqual({ b, valid: false });
  });

  test('every .Values path used in a template exists in values.yaml', () => {
    const tplDir = path.join(CHART, 'templates');
    const missing: string[] = [];
    let refs = 0;
    for (const f of fs
      .readdirSync(tplDir, { recursive: true, encoding: 'utf8' })
      .filter((x) => /\.(ya?ml|tpl|txt)$/.test(x))) {
      const text = fs.readFileSync(path.join(tplDir, f), 'utf8');
      for (const m of text.matchAll(/\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
        refs++;
        let v: unknown = VALUES;
        for (const key of m[1].slice(1).split('.')) {
          if (v === null || typeof v !== 'object' || !(key in (v as object))) {
            missing.push(`${f}: .Values${m[1]}`);
            break;
          }
          v = (v as Record<string, unknown>)[key];
        }
      }
    }
    expect(refs).toBeGreaterThan(40);
    expect(missing).toEqual([]);
  });
});

describe('chart rendered with default values', () => {
  const docs = render();

  test('renders the expected objects, each valid for kubernetes-models, names unique', () => {
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual([
      'ConfigMap/botfleet-controller',
      'Deployment/botfleet-bots',
      'Deployment/botfleet-controller',
      'Deployment/botfleet-dashboard',
      'Pod/botfleet-test-connection',
      'Role/botfleet-controller',
      'RoleBinding/botfleet-controller',
      'Secret/botfleet-admin-token',
      'Service/botfleet-controller',
      'Service/botfleet-dashboard',
      'Service/botfleet-server',
      'Service/botfleet-server-headless',
      'ServiceAccount/botfleet-controller',
      'StatefulSet/botfleet-server',
    ]);
    for (const d of docs) {
      const Model = MODELS[d.kind];
      expect(Model).toBeDefined();
      expect(() => new Model(d as never).validate()).not.toThrow();
    }
  });

  test('no object has an unknown field or a wrongly typed one (TypeScript against kubernetes-models types)', () => {
    // Default, PostgreSQL + NetworkPolicy, kind and controller-less renders together cover every template branch.
    const all = [
      ...docs,
      ...render({ values: readYaml(path.join(CHART, 'ci', 'postgres-values.yaml')) }),
      ...render({ values: readYaml(path.join(CHART, 'ci', 'kind-values.yaml')) }),
      ...render({
        values: {
          controller: { enabled: false },
          postgresql: { url: 'postgres://a@b/c' },
          server: { persistence: { existingClaim: 'x' } },
        },
      }),
    ];
    // One planted typo shows the check catches what kubernetes-models' validate() lets through.
    const typo = structuredClone(find(docs, 'Deployment', 'botfleet-dashboard'));
    typo.metadata.name = 'planted-typo';
    const c = (typo.spec as { template: { spec: { containers: Record<string, unknown>[] } } }).template.spec
      .containers[0];
    c.readinessProbes = c.readinessProbe;
    expect(() => new Deployment(typo as never).validate()).not.toThrow();
    const problems = typecheckManifests([...all, typo]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^Deployment\/planted-typo .*readinessProbes/);
  });

  test('every pod meets the restricted Pod Security Standard', () => {
    expect(podOwners(docs)).toHaveLength(5);
    for (const w of podOwners(docs)) {
      const spec = podSpec(w);
      expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(spec.securityContext?.runAsUser).toBeGreaterThan(0);
      expect(spec.hostNetwork ?? false).toBe(false);
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        expect({ w: w.metadata.name, sc: c.securityContext }).toMatchObject({
          sc: {
            runAsNonRoot: true,
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
            seccompProfile: { type: 'RuntimeDefault' },
          },
        });
        expect(c.securityContext?.capabilities?.add ?? []).toEqual([]);
        expect(c.resources?.requests).toBeDefined();
        expect(c.resources?.limits?.memory).toBeDefined();
      }
    }
  });

  test('only the controller pod gets a service-account token', () => {
    for (const w of podOwners(docs)) {
      const spec = podSpec(w);
      if (w.metadata.name === 'botfleet-controller') {
        expect(spec.serviceAccountName).toBe('botfleet-controller');
        expect(spec.automountServiceAccountToken).toBe(true);
      } else {
        expect({ w: w.metadata.name, automount: spec.automountServiceAccountToken }).toEqual({
          w: w.metadata.name,
          automount: false,
        });
        expect(spec.serviceAccountName).toBeUndefined();
      }
    }
    expect(find(docs, 'ServiceAccount', 'botfleet-controller').automountServiceAccountToken).toBe(false);
  });

  test('the controller Role is exactly the least-privilege set, bound to its ServiceAccount only', () => {
    const role = find(docs, 'Role', 'botfleet-controller') as unknown as Role;
    const norm = (role.rules ?? []).map((r) => ({
      apiGroups: r.apiGroups,
      resources: r.resources,
      resourceNames: r.resourceNames,
      verbs: [...r.verbs].sort(),
    }));
    expect(norm).toEqual([
      {
        apiGroups: ['apps'],
        resources: ['deployments/scale'],
        resourceNames: ['botfleet-bots'],
        verbs: ['get', 'patch'],
      },
      { apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['botfleet-bots'], verbs: ['get', 'watch'] },
      {
        apiGroups: [''],
        resources: ['configmaps'],
        resourceNames: ['botfleet-controller'],
        verbs: ['get', 'patch', 'update', 'watch'],
      },
      { apiGroups: [''], resources: ['pods'], resourceNames: undefined, verbs: ['list', 'patch'] },
    ]);
    expect(docs.some((d) => d.kind === 'ClusterRole' || d.kind === 'ClusterRoleBinding')).toBe(false);
    const binding = find(docs, 'RoleBinding', 'botfleet-controller') as unknown as RoleBinding;
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: 'botfleet-controller',
    });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'botfleet-controller', namespace: 'default' }]);
    // The names the Role allows are the names the controller is told to manage.
    const env = envOf(container(find(docs, 'Deployment', 'botfleet-controller')));
    expect(env.get('BOTS_DEPLOYMENT')?.value).toBe('botfleet-bots');
    expect(env.get('CONTROLLER_CONFIGMAP')?.value).toBe('botfleet-controller');
    expect(env.get('SCALE_DRIVER')?.value).toBe('kubernetes');
    expect(env.get('KUBE_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.namespace');
  });

  test('the admin token comes only from the generated Secret, never as a literal', () => {
    const secret = find(docs, 'Secret', 'botfleet-admin-token') as unknown as Secret;
    const token = Buffer.from(secret.data?.['admin-token'] ?? '', 'base64').toString();
    expect(token).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(
      Buffer.from(
        (render().find((d) => d.kind === 'Secret') as unknown as Secret).data!['admin-token'],
        'base64',
      ).toString(),
    ).not.toBe(token);
    const users = workloads(docs)
      .filter((w) => envOf(container(w)).has('ADMIN_TOKEN'))
      .map((w) => w.metadata.name)
      .sort();
    expect(users).toEqual(['botfleet-controller', 'botfleet-dashboard', 'botfleet-server']);
    for (const w of workloads(docs)) {
      const e: IEnvVar | undefined = envOf(container(w)).get('ADMIN_TOKEN');
      if (!e) continue;
      expect(e.value).toBeUndefined();
      expect(e.valueFrom?.secretKeyRef).toEqual({ name: 'botfleet-admin-token', key: 'admin-token' });
    }
    const text = [...renderChart(CHART).entries()]
      .filter(([f]) => f !== 'secrets.yaml')
      .map(([, t]) => t)
      .join('\n');
    expect(text).not.toContain(token);
    for (const cm of docs.filter((d) => d.kind === 'ConfigMap')) {
      expect(JSON.stringify(cm)).not.toMatch(/token|admin-secret/i);
    }
  });

  test('server: one StatefulSet replica with SQLite and the datalake on its volume claim, probed on /healthz', () => {
    const sts = find(docs, 'StatefulSet', 'botfleet-server') as unknown as StatefulSet;
    expect(sts.spec?.replicas).toBe(1);
    expect(sts.spec?.serviceName).toBe('botfleet-server-headless');
    expect(
      sts.spec?.volumeClaimTemplates?.map((v) => [v.metadata?.name, v.spec?.resources?.requests?.storage]),
    ).toEqual([['data', '1Gi']]);
    const c = sts.spec!.template.spec!.containers[0];
    expect(c.command).toEqual(['node', ...SERVER_NODE_FLAGS, 'dist/server/main.js']);
    expect(c.volumeMounts).toEqual(expect.arrayContaining([{ name: 'data', mountPath: '/data' }]));
    const env = envOf(c);
    expect(env.get('DATABASE_URL')?.value).toBe('sqlite:///data/jobs.db');
    expect(env.get('DATALAKE_DIR')?.value).toBe('/data/datalake');
    for (const p of [c.readinessProbe, c.livenessProbe, c.startupProbe])
      expect(p?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    const svc = find(docs, 'Service', 'botfleet-server') as unknown as Service;
    expect(svc.spec?.selector).toEqual(sts.spec?.selector.matchLabels);
    expect(find(docs, 'Service', 'botfleet-server-headless').spec).toMatchObject({ clusterIP: 'None' });
  });

  test('bots: no replicas (the controller owns them), id from the pod name, server URL that resolves', () => {
    const bots = find(docs, 'Deployment', 'botfleet-bots') as unknown as Deployment;
    expect(bots.spec).not.toHaveProperty('replicas');
    expect(bots.spec!.template.spec!.containers[0].command).toEqual(['node', ...BOT_NODE_FLAGS, 'dist/bot/main.js']);
    const env = envOf(bots.spec!.template.spec!.containers[0]);
    expect(env.get('BOT_ID')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(env.get('SERVER_URL')?.value).toBe('http://botfleet-server:3001');
    const svc = find(docs, 'Service', 'botfleet-server') as unknown as Service;
    expect(svc.spec?.ports?.[0].port).toBe(3001);
    // The controller lists the bots' pods with the Deployment's matchLabels.
    expect(bots.spec?.template.metadata?.labels).toMatchObject(bots.spec!.selector.matchLabels!);
    expect(bots.spec?.selector.matchLabels?.['app.kubernetes.io/component']).toBe('bot');
  });

  test('the controller ConfigMap holds exactly the keys the controller reads, with valid values', () => {
    const cm = find(docs, 'ConfigMap', 'botfleet-controller') as unknown as ConfigMap;
    expect(Object.keys(cm.data ?? {}).sort()).toEqual(Object.values(CONFIGMAP_KEYS).sort());
    const defaults = { replicas: 0, autoscale: { enabled: true, min: 0, max: 0, jobsPerBot: 1 } };
    expect(fromConfigMapData(cm.data!, defaults, 50, 'chart')).toEqual({
      replicas: 3,
      autoscale: { enabled: false, min: 1, max: 10, jobsPerBot: 5 },
    });
  });

  test("each container's env is accepted by that component's own config loader", () => {
    const loaders: Record<string, [string, (env: NodeJS.ProcessEnv) => unknown]> = {
      'botfleet-server': ['server/config.ts', loadServerConfig],
      'botfleet-bots': ['bot/config.ts', loadBotConfig],
      'botfleet-dashboard': ['dashboard/config.ts', loadDashboardConfig],
      'botfleet-controller': ['controller/config.ts', loadControllerConfig],
    };
    for (const w of workloads(render({ values: readYaml(path.join(CHART, 'ci', 'postgres-values.yaml')) })).concat(
      workloads(docs),
    )) {
      const [source, load] = loaders[w.metadata.name];
      const env = envForLoader(container(w));
      const known = fs.readFileSync(path.join(ROOT, source), 'utf8');
      expect({
        w: w.metadata.name,
        unknown: Object.keys(env).filter((k) => !new RegExp(`\\b${k}\\b`).test(known)),
      }).toEqual({ w: w.metadata.name, unknown: [] });
      expect(() => load(env)).not.toThrow();
    }
  });
});
