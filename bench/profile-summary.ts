/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`, see `npm run bench -- --profile=DIR`): self time
 * per function and per package or project folder, so that a profile of the server under load says
 * where the time goes without opening DevTools.
 *
 * Usage: node --import tsx bench/profile-summary.ts <file.cpuprofile> [top=25]
 */
import fs from 'node:fs';
import { countArg, scriptArgs, usageError } from './cli';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a script belongs: an npm package, a folder of this project, or node's internals. */
export function bucketOf(url: string): string {
  if (!url) return '(native / idle / gc)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith('node:')) return url.split('/')[0];
  const proj = /\/work\/[^/]+\/([^/]+)\//.exec(url) ?? /\/(core|server|datalake|bot|bench)\//.exec(url);
  return proj ? `project ${proj[1]}/` : url;
}

export function summarise(p: Profile, top = 25): string {
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++)
    selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0) || 1;
  const byFn = new Map<string, number>();
  const byBucket = new Map<string, number>();
  for (const n of p.nodes) {
    const us = selfUs.get(n.id) ?? 0;
    if (!us) continue;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'}  ${f.url.replace(/^.*\/(node_modules|work\/[^/]+)\//, '')}:${f.lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    const b = bucketOf(f.url);
    byBucket.set(b, (byBucket.get(b) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const lines = [`total ${(total / 1e6).toFixed(2)} s sampled`, '', 'self time by package / folder:'];
  for (const [k, v] of [...byBucket].sort((a, b) => b[1] - a[1]).slice(0, 15)) lines.push(`  ${pct(v)}  ${k}`);
  lines.push('', `top ${top} functions by self time:`);
  for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(v)}  ${k}`);
  return lines.join('\n');
}

if (require.main === module) {
  const usage = 'node --import tsx bench/profile-summary.ts <file.cpuprofile> [top=25]';
  const [file, top] = scriptArgs(usage);
  if (!file) usageError(usage, 'which .cpuprofile file?');
  const n = countArg(usage, 'top', top, 25);
  process.stdout.write(`${summarise(JSON.parse(fs.readFileSync(file, 'utf8')) as Profile, n)}\n`);
}
