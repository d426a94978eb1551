/**
 * Lexer and parser of the Go text/template subset that test/deploy-helm-renderer.ts evaluates: text and
 * actions (with `{{-`/`-}}` trimming and comments) become a tree of nodes; `define` bodies go into a
 * shared map, as Helm shares them across every file of a chart. Unsupported syntax throws.
 */
export type Value = unknown;
export type Operand =
  | { k: 'lit'; v: Value }
  | { k: 'field'; base: string; path: string[] } // base: '.', '$' or '$name'
  | { k: 'ident'; name: string }
  | { k: 'pipe'; pipe: Pipeline };
export interface Pipeline {
  decl?: { names: string[]; assign: boolean };
  cmds: Operand[][];
}
export type Node =
  | { t: 'text'; s: string }
  | { t: 'out'; pipe: Pipeline }
  | { t: 'if'; branches: { pipe: Pipeline; body: Node[] }[]; els: Node[] }
  | { t: 'with' | 'range'; pipe: Pipeline; body: Node[]; els: Node[] }
  | { t: 'template'; name: string; pipe?: Pipeline };

export class TemplateError extends Error {}

interface Piece {
  text?: string;
  action?: string;
}

/** Splits source into text and action pieces, applying the `{{-` / `-}}` whitespace trimming. */
function splitActions(src: string, file: string): Piece[] {
  const out: Piece[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = src.slice(i, open < 0 ? src.length : open);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (open < 0) {
      out.push({ text });
      break;
    }
    const trimLeft = /^\{\{-\s/.test(src.slice(open, open + 4));
    if (trimLeft) text = text.replace(/\s+$/, '');
    out.push({ text });
    let j = open + 2;
    let quote = '';
    while (j < src.length) {
      const c = src[j];
      if (quote) {
        if (c === '\\' && quote === '"') j++;
        else if (c === quote) quote = '';
      } else if (c === '"' || c === '`') quote = c;
      else if (src.startsWith('}}', j)) break;
      j++;
    }
    if (j >= src.length) throw new TemplateError(`${file}: unclosed action`);
    let body = src.slice(open + 2, j);
    if (trimLeft) body = body.slice(1);
    trimNext = /\s-$/.test(body);
    if (trimNext) body = body.slice(0, -1);
    out.push({ action: body.trim() });
    i = j + 2;
  }
  return out;
}

type Tok = { k: 'str' | 'num' | 'ident' | 'var' | 'field' | 'punct'; v: string; path?: string[] };

function lexAction(s: string, file: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const ident = /[A-Za-z_][A-Za-z0-9_]*/y;
  const chain = (): string[] => {
    const p: string[] = [];
    while (s[i] === '.' && /[A-Za-z_]/.test(s[i + 1] ?? '')) {
      ident.lastIndex = i + 1;
      const m = ident.exec(s)!;
      p.push(m[0]);
      i = ident.lastIndex;
    }
    return p;
  };
  while (i < s.length) {
    const c = s[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      toks.push({ k: 'str', v: JSON.parse(s.slice(i, j + 1)) as string });
      i = j + 1;
    } else if (c === '`') {
      const j = s.indexOf('`', i + 1);
      toks.push({ k: 'str', v: s.slice(i + 1, j) });
      i = j + 1;
    } else if (s.startsWith(':=', i)) {
      toks.push({ k: 'punct', v: ':=' });
      i += 2;
    } else if ('()|,='.includes(c)) {
      toks.push({ k: 'punct', v: c });
      i++;
    } else if (c === '$') {
      ident.lastIndex = i + 1;
      const m = ident.exec(s);
      const name = m && m.index === i + 1 ? '$' + m[0] : '$';
      i += name.length;
      toks.push({ k: 'var', v: name, path: chain() });
    } else if (c === '.') {
      if (s[i - 1] === ')') throw new TemplateError(`${file}: field access on (…) is not supported`);
      const p = chain();
      if (p.length === 0) i++;
      toks.push({ k: 'field', v: '.', path: p });
    } else if (/[-0-9]/.test(c)) {
      const m = /-?\d+(\.\d+)?/y;
      m.lastIndex = i;
      const r = m.exec(s);
      if (!r) throw new TemplateError(`${file}: bad number in {{${s}}}`);
      toks.push({ k: 'num', v: r[0] });
      i = m.lastIndex;
    } else {
      ident.lastIndex = i;
      const m = ident.exec(s);
      if (!m) throw new TemplateError(`${file}: unsupported syntax at "${s.slice(i)}"`);
      toks.push({ k: 'ident', v: m[0] });
      i = ident.lastIndex;
    }
  }
  return toks;
}

// ---------------------------------------------------------------- parsing
function parsePipeline(toks: Tok[], file: string): Pipeline {
  let pos = 0;
  const pipe: Pipeline = { cmds: [] };
  const declEnd = toks.findIndex((t) => t.k === 'punct' && (t.v === ':=' || t.v === '='));
  if (declEnd > 0 && toks.slice(0, declEnd).every((t) => t.k === 'var' || t.v === ',')) {
    pipe.decl = {
      names: toks
        .slice(0, declEnd)
        .filter((t) => t.k === 'var')
        .map((t) => t.v),
      assign: toks[declEnd].v === '=',
    };
    pos = declEnd + 1;
  }
  const operand = (): Operand => {
    const t = toks[pos++];
    if (t.k === 'str') return { k: 'lit', v: t.v };
    if (t.k === 'num') return { k: 'lit', v: t.v.includes('.') ? Number(t.v) : BigInt(t.v) };
    if (t.k === 'var' || t.k === 'field') return { k: 'field', base: t.v, path: t.path ?? [] };
    if (t.k === 'ident') {
      if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true' };
      if (t.v === 'nil') return { k: 'lit', v: null };
      return { k: 'ident', name: t.v };
    }
    if (t.v === '(') {
      const p = pipelineUntil(')');
      pos++; // ')'
      return { k: 'pipe', pipe: p };
    }
    throw new TemplateError(`${file}: unexpected "${t.v}"`);
  };
  const pipelineUntil = (close: string | null): Pipeline => {
    const p: Pipeline = { cmds: [[]] };
    while (pos < toks.length && !(close && toks[pos].v === close && toks[pos].k === 'punct')) {
      if (toks[pos].k === 'punct' && toks[pos].v === '|') {
        p.cmds.push([]);
        pos++;
        continue;
      }
      p.cmds[p.cmds.length - 1].push(operand());
    }
    if (close && pos >= toks.length) throw new TemplateError(`${file}: missing "${close}"`);
    if (p.cmds.some((c) => c.length === 0)) throw new TemplateError(`${file}: empty command in pipeline`);
    return p;
  };
  pipe.cmds = pipelineUntil(null).cmds;
  return pipe;
}

export function parseTemplate(src: string, file: string, defines: Map<string, Node[]>): Node[] {
  const pieces = splitActions(src, file);
  let i = 0;
  // Returns the nodes up to an `end` / `else…` action, and that action's tokens.
  const parseList = (): { nodes: Node[]; stop?: Tok[] } => {
    const nodes: Node[] = [];
    while (i < pieces.length) {
      const p = pieces[i++];
      if (p.text !== undefined) {
        if (p.text) nodes.push({ t: 'text', s: p.text });
        continue;
      }
      const a = p.action!;
      if (a.startsWith('/*')) {
        if (!a.endsWith('*/')) throw new TemplateError(`${file}: unclosed comment`);
        continue;
      }
      const toks = lexAction(a, file);
      const kw = toks[0]?.k === 'ident' ? toks[0].v : '';
      if (kw === 'end' || kw === 'else') return { nodes, stop: toks };
      if (kw === 'if') {
        const branches = [{ pipe: parsePipeline(toks.slice(1), file), body: [] as Node[] }];
        let els: Node[] = [];
        for (;;) {
          const r = parseList();
          branches[branches.length - 1].body = r.nodes;
          const stop = need(r.stop);
          if (stop[0].v === 'end') break;
          if (stop[1]?.v === 'if') {
            branches.push({ pipe: parsePipeline(stop.slice(2), file), body: [] });
            continue;
          }
          const e = parseList();
          els = e.nodes;
          if (need(e.stop)[0].v !== 'end') throw new TemplateError(`${file}: else after else`);
          break;
        }
        nodes.push({ t: 'if', branches, els });
      } else if (kw === 'with' || kw === 'range') {
        const pipe = parsePipeline(toks.slice(1), file);
        const r = parseList();
        let els: Node[] = [];
        const stop = need(r.stop);
        if (stop[0].v === 'else') {
          if (stop.length > 1) throw new TemplateError(`${file}: "else ${stop[1].v}" is not supported`);
          const e = parseList();
          els = e.nodes;
          need(e.stop);
        }
        nodes.push({ t: kw, pipe, body: r.nodes, els });
      } else if (kw === 'define') {
        const r = parseList();
        if (need(r.stop)[0].v !== 'end') throw new TemplateError(`${file}: else in define`);
        defines.set(String(toks[1].v), r.nodes);
      } else if (kw === 'template') {
        nodes.push({
          t: 'template',
          name: toks[1].v,
          pipe: toks.length > 2 ? parsePipeline(toks.slice(2), file) : undefined,
        });
      } else if (kw === 'block' || kw === 'break' || kw === 'continue') {
        throw new TemplateError(`${file}: "${kw}" is not supported by this renderer`);
      } else {
        nodes.push({ t: 'out', pipe: parsePipeline(toks, file) });
      }
    }
    return { nodes };
  };
  const need = (stop: Tok[] | undefined): Tok[] => {
    if (!stop) throw new TemplateError(`${file}: missing {{ end }}`);
    return stop;
  };
  const r = parseList();
  if (r.stop) throw new TemplateError(`${file}: unexpected {{ ${r.stop[0].v} }}`);
  return r.nodes;
}
