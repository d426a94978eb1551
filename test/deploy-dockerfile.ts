/**
 * A small Dockerfile reader for the deploy tests (no Docker engine here): instructions grouped by
 * stage, `\` continuations joined, comments dropped, global ARGs substituted into FROM, and ENV
 * lines split into variables.
 */
export interface Instruction {
  op: string;
  args: string;
  line: number;
}
export interface Stage {
  from: string;
  name: string;
  body: Instruction[];
}

/** Parses a Dockerfile: joins `\` continuations, drops comments, groups instructions by stage. */
export function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i];
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) {
      i++;
      if (/^\s*#/.test(lines[i])) continue;
      line = line.slice(0, -1) + ' ' + lines[i].trim();
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile line ${start + 1}: cannot parse "${line}"`);
    const ins = { op: m[1].toUpperCase(), args: m[2].trim(), line: start + 1 };
    if (ins.op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args)!;
      const image = f[1].replace(/\$\{(\w+)\}/g, (_x, n: string) => args.get(n) ?? '');
      stages.push({ from: image, name: f[2] ?? String(stages.length), body: [] });
    } else if (stages.length === 0) {
      if (ins.op !== 'ARG') throw new Error(`Dockerfile line ${start + 1}: ${ins.op} before FROM`);
      const [k, v] = ins.args.split('=');
      args.set(k, v ?? '');
    } else stages[stages.length - 1].body.push(ins);
  }
  return { args, stages };
}

/** The variables of one ENV instruction (`K=V K2="v w"`). */
export function envOfInstruction(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of args.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S+)/g))
    out[m[1]] = m[2].startsWith('"') ? (JSON.parse(m[2]) as string) : m[2];
  return out;
}
