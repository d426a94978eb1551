/**
 * Dockerfile, .dockerignore, kind-config.yaml and Makefile, checked without Docker or kind (neither
 * exists here): the Dockerfile is parsed into stages and instructions, its CMD and the commands the
 * chart and compose use are matched against what `tsc -p tsconfig.build.json` compiles, the ignore
 * file against what the build needs, kind's config against a schema of the fields it uses, and the
 * Makefile is run for real by GNU make (help, dry runs, and test-deploy itself).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import yaml from 'js-yaml';
import { BOT_NODE_FLAGS } from '../bot/node-flags';
import { SERVER_NODE_FLAGS } from '../server/node-flags';
import { parseDockerfile, type Stage } from './deploy-dockerfile';
import { testTime } from './helpers/time';

const ROOT = path.resolve(__dirname, '..');
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');

/** A .dockerignore pattern matches a path or any folder above it (Go filepath.Match + `**`). */
function ignored(patterns: string[], p: string): boolean {
  const parts = p.split('/');
  const candidates = parts.map((_x, i) => parts.slice(0, i + 1).join('/'));
  let out = false;
  for (const raw of patterns) {
    const neg = raw.startsWith('!');
    const pat = neg ? raw.slice(1) : raw;
    const re = new RegExp(
      '^' +
        pat
          .split('**')
          .map((s) =>
            s
              .replace(/[.+^${}()|[\]\\]/g, '\\$&')
              .replace(/\*/g, '[^/]*')
              .replace(/\?/g, '[^/]'),
          )
          .join('.*') +
        '$',
    );
    if (candidates.some((c) => re.test(c))) out = !neg;
  }
  return out;
}

/** The .js files `npm run build` produces: tsc's file list mapped into outDir under the common root. */
function buildOutputs(): Set<string> {
  const cfg = JSON.parse(
    execFileSync(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--showConfig'],
      { cwd: ROOT, encoding: 'utf8' },
    ),
  ) as {
    files: string[];
    compilerOptions: { outDir: string; rootDir?: string };
  };
  const files = cfg.files.map((f) => path.normalize(f)).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  // tsc's rootDir defaults to the longest common folder of the inputs.
  let common = cfg.compilerOptions.rootDir ?? path.dirname(files[0]);
  for (const f of files)
    while (!(f + '/').startsWith(common === '.' ? '' : common + '/')) common = path.dirname(common);
  const out = path.normalize(cfg.compilerOptions.outDir);
  return new Set(files.map((f) => path.join(out, path.relative(common, f)).replace(/\.ts$/, '.js')));
}

describe('Dockerfile', () => {
  const { args, stages } = parseDockerfile(read('Dockerfile'));
  const runtime = stages[stages.length - 1];
  const build = stages.find((s) => s.name === 'build')!;
  const ops = (s: Stage, op: string) => s.body.filter((i) => i.op === op);

  test('two stages on node:20-bookworm-slim: build (native toolchain) and runtime', () => {
    expect(args.get('NODE_IMAGE')).toBe('node:20-bookworm-slim');
    expect(stages.map((s) => [s.name, s.from])).toEqual([
      ['build', 'node:20-bookworm-slim'],
      ['runtime', 'node:20-bookworm-slim'],
    ]);
    const buildRuns = ops(build, 'RUN')
      .map((i) => i.args)
      .join('\n');
    expect(buildRuns).toMatch(/apt-get install[^\n]*\bpython3\b/);
    expect(buildRuns).toMatch(/apt-get install[^\n]*\bmake\b/);
    expect(buildRuns).toMatch(/apt-get install[^\n]*\bg\+\+/);
    // Order matters: lock file before npm ci, npm ci before the source, build before prune.
    const seq = build.body.map((i) => `${i.op} ${i.args}`);
    const at = (re: RegExp) => seq.findIndex((s) => re.test(s));
    expect(at(/^COPY package\.json package-lock\.json/)).toBeGreaterThanOrEqual(0);
    expect(at(/^COPY package\.json package-lock\.json/)).toBeLessThan(at(/^RUN npm ci\b/));
    expect(at(/^RUN npm ci\b/)).toBeLessThan(at(/^COPY \. \./));
    expect(at(/^COPY \. \./)).toBeLessThan(at(/^RUN npm run build$/));
    expect(at(/^RUN npm run build$/)).toBeLessThan(at(/^RUN npm prune --omit=dev/));
    expect(JSON.parse(read('package.json')).scripts.build).toMatch(/tsc -p tsconfig\.build\.json/);
  });

  test('runtime runs as uid 10001, without build tools, writing only to /data', () => {
    const users = ops(runtime, 'USER');
    expect(users.map((u) => u.args)).toEqual(['10001:10001']);
    expect(runtime.body[runtime.body.length - 1].op).toBe('CMD');
    expect(runtime.body.indexOf(users[0])).toBeGreaterThan(
      Math.max(...ops(runtime, 'RUN').map((r) => runtime.body.indexOf(r))),
    );
    const runs = ops(runtime, 'RUN')
      .map((i) => i.args)
      .join('\n');
    expect(runs).toMatch(/useradd [^\n]*--uid 10001/);
    expect(runs).toMatch(/chown botfleet:botfleet \/data/);
    expect(runs).not.toMatch(/apt-get install/);
    const env = ops(runtime, 'ENV')
      .map((i) => i.args)
      .join(' ');
    expect(env).toContain('DATABASE_URL=sqlite:///data/jobs.db');
    expect(env).toContain('DATALAKE_DIR=/data/datalake');
    expect(env).toContain('CONTROLLER_STATE_FILE=/data/controller-state.json');
    expect(env).toContain(`BOT_COMMAND="${['node', ...BOT_NODE_FLAGS, 'dist/bot/main.js'].join(' ')}"`);
    expect(ops(runtime, 'VOLUME')).toEqual([]); // an anonymous volume per bot container would pile up
  });

  test('the runtime copies only build outputs that exist, and every role command is a compiled file', () => {
    const copies = ops(runtime, 'COPY').map((i) => i.args.split(/\s+/));
    for (const c of copies) expect(c[0]).toBe('--from=build');
    const sources = copies.map((c) => c[1].replace(/^\/app\//, ''));
    expect(sources).toEqual(['package.json', 'node_modules', 'dist', 'dashboard/views', 'dashboard/public']);
    for (const s of ['package.json', 'dashboard/views', 'dashboard/public'])
      expect(fs.existsSync(path.join(ROOT, s))).toBe(true);
    // The dashboard finds views and assets next to its compiled code (__dirname).
    expect(copies.map((c) => c[2])).toEqual(
      expect.arrayContaining(['./dist/dashboard/views', './dist/dashboard/public']),
    );
    expect(read('dashboard/render.ts')).toMatch(/path\.join\(__dirname, 'views'\)/);

    const outputs = buildOutputs();
    expect(JSON.parse(ops(runtime, 'CMD')[0].args)).toEqual(['node', ...SERVER_NODE_FLAGS, 'dist/server/main.js']);
    const commands = new Set<string>();
    const compose = yaml.load(read('docker-compose.yml')) as { services: Record<string, { command: string[] }> };
    for (const s of Object.values(compose.services)) commands.add(s.command[s.command.length - 1]);
    for (const f of fs
      .readdirSync(path.join(ROOT, 'charts/botfleet/templates'), { recursive: true, encoding: 'utf8' })
      .filter((x) => x.endsWith('.yaml'))) {
      for (const m of read(`charts/botfleet/templates/${f}`).matchAll(
        /command: \["node", (?:"--[^"]+", )*"([^"]+)"\]/g,
      ))
        commands.add(m[1]);
    }
    expect([...commands].sort()).toEqual([
      'dist/bot/main.js',
      'dist/controller/main.js',
      'dist/dashboard/main.js',
      'dist/server/main.js',
    ]);
    for (const c of commands) expect({ c, built: outputs.has(c) }).toEqual({ c, built: true });
  });

  test('.dockerignore keeps local state out and everything the build needs in', () => {
    const patterns = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const p of [
      'node_modules/x/index.js',
      '.git/HEAD',
      'dist/server/main.js',
      'data/jobs.db',
      'datalake/data/results-2026-01-01.ndjson',
      '.env',
      'server/app.test.ts',
    ]) {
      expect({ p, ignored: ignored(patterns, p) }).toEqual({ p, ignored: true });
    }
    const build = JSON.parse(read('tsconfig.build.json')) as { include: string[] };
    const needed = [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'scripts/build-css.js',
      'dashboard/views/layout.eta',
      'dashboard/styles/input.css',
      'dashboard/public/dashboard.js',
      ...build.include.map((d) => `${d}/x.ts`),
    ];
    for (const p of needed) expect({ p, ignored: ignored(patterns, p) }).toEqual({ p, ignored: false });
  });
});

describe('YAML files', () => {
  test('every plain YAML file of the deployment parses (chart templates are rendered in deploy-chart.test.ts)', () => {
    const chartDir = path.join(ROOT, 'charts/botfleet');
    const files = [
      'docker-compose.yml',
      'kind-config.yaml',
      'charts/botfleet/Chart.yaml',
      'charts/botfleet/values.yaml',
      ...fs.readdirSync(path.join(chartDir, 'ci')).map((f) => `charts/botfleet/ci/${f}`),
    ];
    for (const f of files) {
      const docs = yaml.loadAll(read(f), undefined, { filename: f });
      expect({ f, docs: docs.length }).toEqual({ f, docs: 1 });
      expect(typeof docs[0]).toBe('object');
    }
  });
});

describe('kind-config.yaml', () => {
  test('is a kind v1alpha4 Cluster mapping the dashboard NodePort to localhost:3002', () => {
    // kind's Cluster is not a Kubernetes API object, so kubernetes-models has no model for it: this
    // schema covers the fields the file uses, and rejects unknown ones (kind does too).
    const schema = {
      type: 'object',
      additionalProperties: false,
      required: ['kind', 'apiVersion', 'nodes'],
      properties: {
        kind: { const: 'Cluster' },
        apiVersion: { const: 'kind.x-k8s.io/v1alpha4' },
        name: { type: 'string', pattern: '^[a-z0-9-]+$' },
        nodes: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['role'],
            properties: {
              role: { enum: ['control-plane', 'worker'] },
              extraPortMappings: {
                type: 'array',
                items: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['containerPort', 'hostPort'],
                  properties: {
                    containerPort: { type: 'integer', minimum: 1, maximum: 65535 },
                    hostPort: { type: 'integer', minimum: 1, maximum: 65535 },
                    listenAddress: { type: 'string' },
                    protocol: { enum: ['TCP', 'UDP', 'SCTP'] },
                  },
                },
              },
            },
          },
        },
      },
    };
    const validate = new Ajv({ allErrors: true }).compile(schema);
    const doc = yaml.load(read('kind-config.yaml'));
    expect(validate(doc) ? [] : validate.errors).toEqual([]);
    const node = (doc as { nodes: { extraPortMappings: { containerPort: number; hostPort: number }[] }[] }).nodes[0];
    expect(node.extraPortMappings).toContainEqual(expect.objectContaining({ containerPort: 30002, hostPort: 3002 }));
  });
});

describe('Makefile', () => {
  const make = (...a: string[]) =>
    spawnSync('make', ['--no-print-directory', ...a], { cwd: ROOT, encoding: 'utf8', timeout: testTime(20000) });
  const TARGETS = [
    'help',
    'up',
    'down',
    'logs',
    'ps',
    'dev',
    'test',
    'kind-up',
    'kind-load',
    'helm-install',
    'helm-uninstall',
    'bot-logs',
    'test-deploy',
  ];

  test('`make` alone prints help listing every target with a description', () => {
    const r = make();
    expect(r.status).toBe(0);
    for (const t of TARGETS) expect(r.stdout).toMatch(new RegExp(`^\\s+${t}\\s+\\S`, 'm'));
  });

  test('each target expands to the intended commands (make -n)', () => {
    const dry = (t: string, ...vars: string[]) => {
      const r = make('-n', t, 'COMPOSE=docker compose', ...vars);
      expect({ t, status: r.status, err: r.stderr }).toEqual({ t, status: 0, err: '' });
      return r.stdout;
    };
    expect(dry('up')).toContain('docker compose up --build -d --scale bot=3');
    expect(dry('up', 'BOTS=5')).toContain('--scale bot=5');
    expect(dry('down', 'V=1')).toContain('docker compose down --volumes');
    expect(dry('kind-up')).toContain('kind create cluster --name botfleet --config kind-config.yaml');
    const kindValues = yaml.load(read('charts/botfleet/ci/kind-values.yaml')) as {
      image: { repository: string; tag: string };
    };
    const load = dry('kind-load');
    expect(load).toContain(`docker build -t ${kindValues.image.repository}:${kindValues.image.tag} .`);
    expect(load).toContain(
      `kind load docker-image ${kindValues.image.repository}:${kindValues.image.tag} --name botfleet`,
    );
    const install = dry('helm-install');
    expect(install).toContain('pod-security.kubernetes.io/enforce=restricted');
    expect(install).toContain(
      'helm upgrade --install botfleet charts/botfleet --namespace botfleet -f charts/botfleet/ci/kind-values.yaml',
    );
    expect(dry('helm-test')).toContain('helm test botfleet --namespace botfleet');
    expect(dry('bot-logs')).toContain('-l app.kubernetes.io/instance=botfleet,app.kubernetes.io/component=bot');
    for (const t of ['logs', 'ps', 'dev', 'test', 'helm-uninstall']) expect(dry(t).trim()).not.toBe('');
  });

  test('make test-deploy runs the checks whose tools exist here and passes', () => {
    const r = make('test-deploy');
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    const hasCompose = spawnSync('sh', ['-c', 'command -v docker-compose || docker compose version']).status === 0;
    expect(r.stdout).toContain(hasCompose ? 'test-deploy: compose file ok' : 'skipped compose config');
  });
});
