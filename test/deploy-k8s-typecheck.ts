/**
 * kubernetes-models' validate() checks types and required fields but lets unknown fields through, so
 * a typo such as `readinessProbes:` would pass it (and the API server would drop or reject it). This
 * closes the gap with TypeScript: each rendered object becomes `<literal> satisfies I<Kind>` in a
 * virtual source file, type-checked in memory against kubernetes-models' interfaces; excess-property
 * checks then flag every unknown field, at any depth, and wrong types too.
 */
import path from 'node:path';
import ts from 'typescript';
import type { Manifest } from './deploy-helm-renderer';

const ROOT = path.resolve(__dirname, '..');

/** Kind -> [module, interface] of kubernetes-models. */
const TYPES: Record<string, [string, string]> = {
  Deployment: ['kubernetes-models/apps/v1/Deployment', 'IDeployment'],
  StatefulSet: ['kubernetes-models/apps/v1/StatefulSet', 'IStatefulSet'],
  Service: ['kubernetes-models/v1/Service', 'IService'],
  ConfigMap: ['kubernetes-models/v1/ConfigMap', 'IConfigMap'],
  Secret: ['kubernetes-models/v1/Secret', 'ISecret'],
  ServiceAccount: ['kubernetes-models/v1/ServiceAccount', 'IServiceAccount'],
  Role: ['kubernetes-models/rbac.authorization.k8s.io/v1/Role', 'IRole'],
  RoleBinding: ['kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding', 'IRoleBinding'],
  NetworkPolicy: ['kubernetes-models/networking.k8s.io/v1/NetworkPolicy', 'INetworkPolicy'],
  Pod: ['kubernetes-models/v1/Pod', 'IPod'],
};

/** Returns one message per problem ("Deployment/botfleet-bots: …"); empty when every object fits its type. */
export function typecheckManifests(docs: Manifest[]): string[] {
  const file = path.join(ROOT, 'test', '__rendered_manifests__.ts');
  const imports = new Map<string, Set<string>>();
  const spans: { start: number; label: string }[] = [];
  let body = '';
  docs.forEach((d, i) => {
    const t = TYPES[d.kind];
    if (!t) throw new Error(`no kubernetes-models type for kind ${d.kind}`);
    if (!imports.has(t[0])) imports.set(t[0], new Set());
    imports.get(t[0])!.add(t[1]);
    spans.push({ start: body.length, label: `${d.kind}/${d.metadata.name}` });
    body += `export const m${i} = ${JSON.stringify(d, null, 2)} satisfies ${t[1]};\n`;
  });
  const head = [...imports].map(([m, names]) => `import type { ${[...names].join(', ')} } from '${m}';\n`).join('');
  const text = head + body;

  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) =>
    name === file ? ts.createSourceFile(name, text, lang) : getSourceFile(name, lang, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (name === file ? text : readFile(name));

  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    if (d.file?.fileName !== file || d.start === undefined) return msg;
    const offset = d.start - head.length;
    const span = [...spans].reverse().find((s) => s.start <= offset);
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${span?.label ?? 'imports'} (line ${line + 1} of the generated file): ${msg}`;
  });
}
