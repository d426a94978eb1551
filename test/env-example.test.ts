/** ops/.env.example lists every variable that any component's config.ts reads, each once. */
import fs from 'node:fs';
import path from 'node:path';
import { TOKEN_VARIABLES } from '../core/http/auth';

const ROOT = path.resolve(__dirname, '..');
const example = fs.readFileSync(path.join(ROOT, 'ops', '.env.example'), 'utf8');
const listed = example
  .split('\n')
  .map((l) => /^([A-Z][A-Z0-9_]*)=/.exec(l)?.[1])
  .filter((v): v is string => Boolean(v));

test('every variable of every config.ts is in ops/.env.example, with a comment above it', () => {
  const configs = ['server', 'bot', 'controller', 'dashboard']
    .map((c) => path.join(ROOT, c, 'config.ts'))
    .filter((f) => fs.existsSync(f));
  expect(configs.length).toBeGreaterThanOrEqual(2);
  const read = new Set<string>();
  for (const f of configs) {
    for (const m of fs.readFileSync(f, 'utf8').matchAll(/^\s+([A-Z][A-Z0-9_]{2,}):/gm)) read.add(m[1]);
  }
  for (const v of Object.values(TOKEN_VARIABLES)) read.add(v); // read by core/http/auth.ts for each component
  expect(read.size).toBeGreaterThan(10);
  const missing = [...read].filter((v) => !listed.includes(v));
  expect(missing).toEqual([]);
  const lines = example.split('\n');
  // A variable, or a group of related ones, sits right under a comment that explains it.
  const isVar = (l: string) => /^[A-Z][A-Z0-9_]*=/.test(l);
  const uncommented = lines
    .map((l, i) => {
      if (!isVar(l)) return null;
      let j = i - 1;
      while (j >= 0 && isVar(lines[j])) j--;
      return /^#/.test(lines[j] ?? '') ? null : l.split('=')[0];
    })
    .filter(Boolean);
  expect(uncommented).toEqual([]);
});

test('no variable is listed twice with different defaults', () => {
  const values = new Map<string, Set<string>>();
  for (const l of example.split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(l);
    if (m) values.set(m[1], (values.get(m[1]) ?? new Set()).add(m[2]));
  }
  const conflicting = [...values].filter(([, v]) => v.size > 1).map(([k, v]) => `${k}: ${[...v].join(' | ')}`);
  expect(conflicting).toEqual([]);
});
