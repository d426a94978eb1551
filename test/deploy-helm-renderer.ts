/**
 * A small renderer for the subset of Helm templates (Go text/template + a few Sprig/Helm functions)
 * that charts/botfleet uses, so the deploy tests can render the chart without helm (not installed
 * here) and then validate the rendered objects with kubernetes-models.
 *
 * Supported: text and actions with `{{-`/`-}}` trimming and comments; if / else if / else, with / else,
 * range (lists and maps, `$v :=` and `$k, $v :=`) / else; define, include, template; variables
 * (`$x :=`, `$x =`, `$`); pipelines and parenthesised sub-pipelines; field chains on `.`, `$` and
 * `$var`; string, raw string, number, true/false/nil literals; and the functions in FUNCS. Anything
 * else throws, so a chart that grows past the subset fails its test instead of rendering wrongly.
 *
 * Helm behaviour mirrored on purpose: numbers from values.yaml are float64 (JS number) and print like
 * Go prints them (1000000 -> "1e+06", the classic Helm trap), while integer literals and `int`/`int64`
 * results are int (JS bigint), and comparing an int with a float64 is an error as in Go; a field of a
 * missing value is an error ("nil pointer evaluating"); a missing map key prints as ""; `lookup`
 * returns an empty map (as `helm template` does); partials (`_*.tpl`) are not rendered.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import {
  parseTemplate,
  TemplateError,
  type Node,
  type Operand,
  type Pipeline,
  type Value,
} from './deploy-helm-template-parser';

export { TemplateError };

// ---------------------------------------------------------------- values and functions
/** Go's %v: float64 values (every number in values.yaml) use exponent form from 1e21 down to 1e6. */
export function goString(v: Value): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'bigint') return String(v);
  if (typeof v === 'number') {
    if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
    const exp = v === 0 ? 0 : Math.floor(Math.log10(Math.abs(v)));
    if (exp < -4 || exp >= 21 || (Number.isInteger(v) && exp >= 6)) {
      return v.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
    }
    return String(v);
  }
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(goString).join(' ')}]`;
  return `map[${Object.keys(v as object)
    .sort()
    .map((k) => `${k}:${goString((v as Record<string, Value>)[k])}`)
    .join(' ')}]`;
}

export function truthy(v: Value): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === 0n || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

/** Sprig's toInt: the Go int kind, a bigint here. */
const toInt = (v: Value): bigint => {
  if (typeof v === 'bigint') return v;
  const n = typeof v === 'string' ? Number.parseInt(v, 10) : Number(v ?? 0);
  return BigInt(Number.isFinite(n) ? Math.trunc(n) : 0);
};
/** Go's eq/lt refuse to compare an int with a float64 ("incompatible types for comparison"). */
const comparable = (a: Value, b: Value): [Value, Value] => {
  const kind = (x: Value) => (typeof x === 'bigint' ? 'int' : typeof x === 'number' ? 'float' : typeof x);
  if (a !== undefined && a !== null && b !== undefined && b !== null && kind(a) !== kind(b)) {
    throw new TemplateError(`incompatible types for comparison: ${kind(a)} and ${kind(b)}`);
  }
  return [a, b];
};
const toPlain = (v: Value): Value =>
  JSON.parse(JSON.stringify(v, (_k, x: Value) => (typeof x === 'bigint' ? Number(x) : x)));
const indent = (n: number, s: Value) => {
  const pad = ' '.repeat(n);
  return pad + goString(s).replace(/\n/g, '\n' + pad);
};
const randomAlphaNum = (n: number) => {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(crypto.randomBytes(n), (b) => abc[b % abc.length]).join('');
};

const FUNCS: Record<string, (...a: Value[]) => Value> = {
  toYaml: (v) =>
    v === undefined || v === null
      ? 'null'
      : yaml.dump(toPlain(v), { lineWidth: -1, noRefs: true, sortKeys: true }).replace(/\n$/, ''),
  indent: (n, s) => indent(Number(toInt(n)), s),
  nindent: (n, s) => '\n' + indent(Number(toInt(n)), s),
  quote: (...a) =>
    a
      .filter((v) => v !== undefined && v !== null)
      .map((v) => JSON.stringify(goString(v)))
      .join(' '),
  default: (d, v) => (truthy(v) ? v : d),
  empty: (v) => !truthy(v),
  required: (msg, v) => {
    if (v === undefined || v === null || v === '') throw new TemplateError(`required: ${goString(msg)}`);
    return v;
  },
  fail: (msg) => {
    throw new TemplateError(`fail: ${goString(msg)}`);
  },
  trunc: (n, s) => goString(s).slice(0, Number(toInt(n))),
  trimSuffix: (suf, s) => {
    const str = goString(s);
    const x = goString(suf);
    return x && str.endsWith(x) ? str.slice(0, -x.length) : str;
  },
  contains: (sub, s) => goString(s).includes(goString(sub)),
  replace: (a, b, s) => goString(s).split(goString(a)).join(goString(b)),
  printf: (fmt, ...args) => {
    let k = 0;
    return goString(fmt).replace(/%([sdvq%])/g, (_m, verb: string) => {
      if (verb === '%') return '%';
      const v = args[k++];
      if (verb === 'd' && typeof v !== 'bigint') throw new TemplateError(`printf %d of a non-int ${goString(v)}`);
      return verb === 'q' ? JSON.stringify(goString(v)) : goString(v);
    });
  },
  toString: (v: Value) => goString(v),
  int: toInt,
  int64: toInt,
  eq: (a, ...bs) =>
    bs.some((b) => {
      comparable(a, b);
      return a === b;
    }),
  ne: (a, b) => {
    comparable(a, b);
    return a !== b;
  },
  lt: (a, b) => {
    comparable(a, b);
    return (a as number) < (b as number);
  },
  gt: (a, b) => {
    comparable(a, b);
    return (a as number) > (b as number);
  },
  le: (a, b) => {
    comparable(a, b);
    return (a as number) <= (b as number);
  },
  ge: (a, b) => {
    comparable(a, b);
    return (a as number) >= (b as number);
  },
  not: (v) => !truthy(v),
  b64enc: (s) => Buffer.from(goString(s)).toString('base64'),
  randAlphaNum: (n) => randomAlphaNum(Number(toInt(n))),
  sha256sum: (s) => crypto.createHash('sha256').update(goString(s)).digest('hex'),
  // `helm template` and `helm install --dry-run` have no cluster: lookup returns an empty map.
  lookup: () => ({}),
  list: (...a) => a,
  dict: (...a) =>
    Object.fromEntries(Array.from({ length: a.length / 2 }, (_x, i) => [goString(a[2 * i]), a[2 * i + 1]])),
  index: (m, ...keys) =>
    keys.reduce((v: Value, k) => {
      if (v === undefined || v === null) throw new TemplateError('index of a nil value');
      return Array.isArray(v) ? v[Number(k)] : (v as Record<string, Value>)[goString(k)];
    }, m),
  hasKey: (m, k) => typeof m === 'object' && m !== null && Object.prototype.hasOwnProperty.call(m, goString(k)),
};

// ---------------------------------------------------------------- evaluation
/** Go's variable scopes: a control structure's variables live until its {{ end }}. */
class Scope {
  private vars = new Map<string, Value>();
  constructor(private parent?: Scope) {}
  declare(name: string, v: Value) {
    this.vars.set(name, v);
  }
  assign(name: string, v: Value) {
    if (this.vars.has(name)) this.vars.set(name, v);
    else if (this.parent) this.parent.assign(name, v);
    else throw new TemplateError(`undefined variable ${name}`);
  }
  get(name: string): Value {
    if (this.vars.has(name)) return this.vars.get(name);
    if (this.parent) return this.parent.get(name);
    throw new TemplateError(`undefined variable ${name}`);
  }
}

class Renderer {
  /** strict: a missing map key is an error, like `helm lint --strict` / `helm template --strict`. */
  constructor(
    private defines: Map<string, Node[]>,
    private strict = false,
  ) {}

  run(nodes: Node[], dot: Value, scope: Scope): string {
    let out = '';
    for (const n of nodes) {
      if (n.t === 'text') out += n.s;
      else if (n.t === 'out') {
        const v = this.pipe(n.pipe, dot, scope);
        if (!n.pipe.decl) out += goString(v);
      } else if (n.t === 'if') {
        const inner = new Scope(scope);
        const b = n.branches.find((br) => truthy(this.pipe(br.pipe, dot, inner)));
        out += this.run(b ? b.body : n.els, dot, inner);
      } else if (n.t === 'with') {
        const inner = new Scope(scope);
        const v = this.pipe(n.pipe, dot, inner);
        out += truthy(v) ? this.run(n.body, v, inner) : this.run(n.els, dot, inner);
      } else if (n.t === 'range') {
        const inner = new Scope(scope);
        const { decl, ...rest } = n.pipe;
        const v = this.pipe(rest, dot, inner);
        const entries: [Value, Value][] = Array.isArray(v)
          ? v.map((x, i) => [BigInt(i), x])
          : v && typeof v === 'object'
            ? Object.keys(v)
                .sort()
                .map((k) => [k, (v as Record<string, Value>)[k]])
            : [];
        if (v !== undefined && v !== null && typeof v !== 'object') throw new TemplateError(`range over ${typeof v}`);
        if (entries.length === 0) out += this.run(n.els, dot, inner);
        for (const [k, x] of entries) {
          const s = new Scope(inner);
          if (decl?.names.length === 1) s.declare(decl.names[0], x);
          if (decl?.names.length === 2) {
            s.declare(decl.names[0], k);
            s.declare(decl.names[1], x);
          }
          out += this.run(n.body, x, s);
        }
      } else if (n.t === 'template') {
        out += this.include(n.name, n.pipe ? this.pipe(n.pipe, dot, scope) : undefined);
      }
    }
    return out;
  }

  include(name: string, data: Value): string {
    const body = this.defines.get(name);
    if (!body) throw new TemplateError(`no template "${name}"`);
    const s = new Scope();
    s.declare('$', data);
    return this.run(body, data, s);
  }

  pipe(p: Pipeline, dot: Value, scope: Scope): Value {
    let v: Value;
    p.cmds.forEach((cmd, i) => {
      v = this.command(cmd, dot, scope, i > 0, v);
    });
    if (p.decl) {
      if (p.decl.names.length !== 1) throw new TemplateError('only one variable may be declared outside range');
      if (p.decl.assign) scope.assign(p.decl.names[0], v);
      else scope.declare(p.decl.names[0], v);
    }
    return v;
  }

  private command(cmd: Operand[], dot: Value, scope: Scope, piped: boolean, prev: Value): Value {
    const [head, ...rest] = cmd;
    if (head.k !== 'ident') {
      if (rest.length || piped) throw new TemplateError('cannot give arguments to a non-function');
      return this.operand(head, dot, scope);
    }
    const args = () => [...rest.map((o) => this.operand(o, dot, scope)), ...(piped ? [prev] : [])];
    if (head.name === 'and' || head.name === 'or') {
      // Short-circuit like Go 1.18+: `and .a .a.b` must not evaluate .a.b when .a is empty.
      const thunks = [...rest.map((o) => () => this.operand(o, dot, scope)), ...(piped ? [() => prev] : [])];
      let last: Value;
      for (const t of thunks) {
        last = t();
        if (truthy(last) === (head.name === 'or')) return last;
      }
      return last;
    }
    if (head.name === 'include') {
      const [name, data] = args();
      return this.include(goString(name), data);
    }
    const fn = FUNCS[head.name];
    if (!fn) throw new TemplateError(`function "${head.name}" is not supported by this renderer`);
    return fn(...args());
  }

  private operand(o: Operand, dot: Value, scope: Scope): Value {
    if (o.k === 'lit') return o.v;
    if (o.k === 'pipe') return this.pipe(o.pipe, dot, scope);
    if (o.k === 'ident') {
      const fn = FUNCS[o.name];
      if (!fn) throw new TemplateError(`function "${o.name}" is not supported by this renderer`);
      return fn();
    }
    let v = o.base === '.' ? dot : scope.get(o.base);
    for (const [i, key] of o.path.entries()) {
      if (v === undefined || v === null)
        throw new TemplateError(`nil pointer evaluating ${[o.base, ...o.path.slice(0, i)].join('.')}.${key}`);
      if (typeof v !== 'object' || Array.isArray(v))
        throw new TemplateError(`can't evaluate field ${key} in ${typeof v}`);
      if (this.strict && !Object.prototype.hasOwnProperty.call(v, key)) {
        throw new TemplateError(`map has no entry for key "${key}" in ${[o.base, ...o.path.slice(0, i)].join('.')}`);
      }
      v = (v as Record<string, Value>)[key];
    }
    return v;
  }
}

// ---------------------------------------------------------------- chart API
export interface RenderOptions {
  values?: Record<string, unknown>;
  releaseName?: string;
  namespace?: string;
  isUpgrade?: boolean;
  /** Missing map keys are errors (helm's --strict). Default true: the tests want typos to fail. */
  strict?: boolean;
}

export function deepMerge(base: Value, over: Value): Value {
  if (over === undefined) return base;
  if (
    base &&
    over &&
    typeof base === 'object' &&
    typeof over === 'object' &&
    !Array.isArray(base) &&
    !Array.isArray(over)
  ) {
    const out: Record<string, Value> = { ...(base as Record<string, Value>) };
    for (const [k, v] of Object.entries(over)) out[k] = deepMerge(out[k], v);
    return out;
  }
  return over;
}

/** Renders a template string with the given defines (for unit tests of the renderer itself). */
export function renderString(src: string, data: Value, partials = '', strict = false): string {
  const defines = new Map<string, Node[]>();
  parseTemplate(partials, 'partials', defines);
  const nodes = parseTemplate(src, 'inline', defines);
  return runRoot(new Renderer(defines, strict), nodes, data);
}

function runRoot(r: Renderer, nodes: Node[], data: Value): string {
  const s = new Scope();
  s.declare('$', data);
  return r.run(nodes, data, s);
}

/** Renders every template of a chart directory like `helm template`: file name -> rendered text. */
export function renderChart(chartDir: string, opts: RenderOptions = {}): Map<string, string> {
  const chart = yaml.load(fs.readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8')) as Record<string, string>;
  const defaults = yaml.load(fs.readFileSync(path.join(chartDir, 'values.yaml'), 'utf8'));
  const values = deepMerge(defaults, opts.values ?? {});
  const tplDir = path.join(chartDir, 'templates');
  // Like helm: every file below templates/ (tests/ included), named by its path relative to it.
  const files = fs
    .readdirSync(tplDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.(ya?ml|tpl|txt)$/.test(f))
    .sort();
  const defines = new Map<string, Node[]>();
  const parsed = files.map((f) => ({
    f,
    nodes: parseTemplate(fs.readFileSync(path.join(tplDir, f), 'utf8'), f, defines),
  }));
  const data = {
    Values: values,
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
    Release: {
      Name: opts.releaseName ?? 'botfleet',
      Namespace: opts.namespace ?? 'default',
      Service: 'Helm',
      IsInstall: !opts.isUpgrade,
      IsUpgrade: !!opts.isUpgrade,
      Revision: 1,
    },
    Capabilities: {},
    Template: { BasePath: `${chart.name}/templates` },
  };
  const r = new Renderer(defines, opts.strict ?? true);
  const out = new Map<string, string>();
  for (const { f, nodes } of parsed) {
    if (path.basename(f).startsWith('_')) continue;
    try {
      out.set(f, runRoot(r, nodes, { ...data, Template: { ...data.Template, Name: `${chart.name}/templates/${f}` } }));
    } catch (e) {
      if (e instanceof TemplateError) throw new TemplateError(`${f}: ${e.message}`);
      throw e;
    }
  }
  return out;
}

export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [k: string]: unknown };
  [k: string]: unknown;
};

/** Renders the chart and parses every YAML document (NOTES.txt excluded), dropping empty ones. */
export function renderManifests(chartDir: string, opts: RenderOptions = {}): Manifest[] {
  const docs: Manifest[] = [];
  for (const [f, text] of renderChart(chartDir, opts)) {
    if (!/\.ya?ml$/.test(f)) continue;
    for (const d of yaml.loadAll(text, undefined, { filename: f })) if (d) docs.push(d as Manifest);
  }
  return docs;
}
