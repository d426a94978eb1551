/**
 * `npm run bench`: runs the performance goals against real processes and prints one table (method
 * and results: docs/performance.md). Not part of `npm test`: speed is never a test assertion.
 */
import os from 'node:os';
import { handleHelp } from '../core/config';
import { BENCH_HELP, parseBenchOptions, type BenchOptions, type GoalName } from './config';
import { goalExport } from './goal-export';
import { goalIdle } from './goal-idle';
import { goalPostgres } from './goal-postgres';
import { goalScale } from './goal-scale';
import { goalDrain, goalEnqueue, goalLatency } from './goals-queue';
import { loadAverage, removeBenchDirs } from './processes';
import { formatTable, type Figure } from './table';

const GOALS: Record<GoalName, (o: BenchOptions, out: Figure[]) => Promise<void>> = {
  drain: goalDrain,
  latency: goalLatency,
  enqueue: goalEnqueue,
  scale: goalScale,
  export: goalExport,
  postgres: goalPostgres,
  idle: goalIdle,
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
  const out: Figure[] = [];
  const failures: string[] = [];
  const names = (Object.keys(GOALS) as GoalName[]).filter((n) => o.only.has(n));
  process.stderr.write(
    `bench: ${os.cpus().length} cores, load ${loadAverage()}, goals ${names.join(',')}${o.quick ? ' (quick)' : ''}${o.compare ? ' with BullMQ' : ''}\n`,
  );
  for (const name of names) {
    const t0 = Date.now();
    process.stderr.write(`bench: ${name}...\n`);
    try {
      await GOALS[name](o, out);
    } catch (err) {
      failures.push(`${name}: ${(err as Error).stack ?? err}`);
    }
    process.stderr.write(`bench: ${name} took ${((Date.now() - t0) / 1000).toFixed(1)} s (load ${loadAverage()})\n`);
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
