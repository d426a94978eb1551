/**
 * `npm run bench`: runs the performance goals against real processes and prints one table (method
 * and results: docs/performance.md). Not part of `npm test`: speed is never a test assertion.
 */
import os from 'node:os';
import { handleHelp } from '../core/config';
import { BENCH_HELP, parseBenchOptions, type BenchOptions } from './config';
import { goalExport } from './goal-export';
import { goalPostgres } from './goal-postgres';
import { goalDrain, goalEnqueue, goalLatency } from './goals-queue';
import { goalScale } from './goals-scale';
import { loadAverage, profileServersInto, removeBenchDirs } from './processes';
import { formatTable, type Figure } from './table';

type Goal = (o: BenchOptions, out: Figure[], ctx: { botPeakMb: number }) => Promise<void>;

const GOALS: Record<number, { title: string; run: Goal }> = {
  1: {
    title: 'drain rate, 4 bots vs BullMQ',
    run: async (o, out, ctx) => void (ctx.botPeakMb = (await goalDrain(o, out)).botPeakMb),
  },
  2: { title: 'pickup latency', run: (o, out) => goalLatency(o, out) },
  3: { title: 'bulk enqueue', run: (o, out) => goalEnqueue(o, out) },
  4: { title: 'scale: a seeded database, read latencies, memory', run: (o, out) => goalScale(o, out) },
  5: { title: 'datalake export', run: (o, out) => goalExport(o, out) },
  6: { title: 'PostgreSQL, 2 servers', run: (o, out) => goalPostgres(o, out) },
};

async function main(): Promise<void> {
  handleHelp(process.argv.slice(2), BENCH_HELP);
  let o: BenchOptions;
  try {
    o = parseBenchOptions(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exit(2);
  }
  profileServersInto(o.profileDir);
  const out: Figure[] = [];
  const ctx = { botPeakMb: NaN };
  const failures: string[] = [];
  process.stderr.write(
    `bench: ${os.cpus().length} cores, load ${loadAverage()}, goals ${[...o.only].join(',')}${o.quick ? ' (quick)' : ''}${o.compare ? ' with BullMQ' : ''}\n`,
  );
  for (const n of [...o.only].sort()) {
    const g = GOALS[n];
    if (!g) continue;
    const t0 = Date.now();
    process.stderr.write(`bench: goal ${n}: ${g.title}...\n`);
    try {
      await g.run(o, out, ctx);
    } catch (err) {
      failures.push(`goal ${n}: ${(err as Error).stack ?? err}`);
    }
    process.stderr.write(`bench: goal ${n} took ${((Date.now() - t0) / 1000).toFixed(1)} s (load ${loadAverage()})\n`);
  }
  removeBenchDirs();
  process.stdout.write(
    `\n${formatTable(out)}\n\nload average at the end: ${loadAverage()} (${os.cpus().length} cores)\n`,
  );
  if (failures.length) {
    process.stderr.write(`\nbench: ${failures.length} goal(s) could not be measured:\n${failures.join('\n')}\n`);
    process.exit(1);
  }
}

void main();
