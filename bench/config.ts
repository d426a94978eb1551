/**
 * Benchmark options: the only reader of argv and process.env in bench/. Flags choose what to run and
 * at which size; the one variable says where Redis is (only for --compare).
 */
import { z } from 'zod';
import { envString, parseEnv } from '../core/config';

/** The goals, in the order they run; `--only` takes these names. */
export const GOAL_NAMES = ['drain', 'latency', 'enqueue', 'scale', 'export', 'postgres', 'idle'] as const;
export type GoalName = (typeof GOAL_NAMES)[number];

export interface BenchOptions {
  quick: boolean;
  compare: boolean;
  only: ReadonlySet<GoalName>;
  redisUrl: string;
  /** Full sizes by default, small ones with --quick (the harness test). */
  sizes: Readonly<{
    drainJobs: number;
    latencySamples: number;
    enqueueJobs: number;
    enqueueRepeats: number;
    scaleSeedJobs: number;
    scaleDrainJobs: number;
    exportBytes: number;
    postgresJobs: number;
    idleBots: number;
    idleJobs: number;
  }>;
}

const Env = z.object({ BENCH_REDIS_URL: envString('redis://127.0.0.1:6379').pipe(z.url()) });

export const BENCH_HELP = `npm run bench [-- --quick] [-- --only=drain,latency] [-- --compare]

Runs the performance goals of docs/performance.md against real processes (the compiled server,
bots, lean clients, PostgreSQL) and prints one table: each figure, its target, the ratio, met or not.

  --quick       small sizes (a few minutes): proves the harness, the numbers mean nothing
  --only=LIST   goals to run, by name, comma-separated (default: all, in this order):
                  drain     4 bots drain 20,000 jobs on SQLite, with context rows (bare HTTP, the store alone)
                  latency   pickup latency of an idle client and of an idle bot
                  enqueue   POST /jobs with 10,000 jobs
                  scale     1,000,000 jobs in the database: drain rate, read latencies, memory
                  export    export of a 1 GB datalake day
                  postgres  2 servers on one PostgreSQL, 4 bots drain 20,000 jobs
                  idle      server CPU while 50 bots long-poll an empty queue, and per job then
  --compare     also runs BullMQ 6.7 on Redis (4 workers x concurrency 1) in the same run: the
                drain goal's anchor, and BullMQ's pickup latency beside ours
  --help        this text

Environment:
  BENCH_REDIS_URL    Redis for --compare [redis://127.0.0.1:6379]
  TEST_POSTGRES_URL  PostgreSQL for the postgres goal [postgres://postgres@127.0.0.1:5432/test];
                     a fresh schema per run, dropped afterwards`;

class UsageError extends Error {}

export function parseBenchOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  const e = parseEnv(Env, env);
  let quick = false;
  let compare = false;
  let only = new Set<GoalName>(GOAL_NAMES);
  for (const arg of argv) {
    if (arg === '--quick') quick = true;
    else if (arg === '--compare') compare = true;
    else if (arg.startsWith('--only=')) {
      const list = arg
        .slice('--only='.length)
        .split(',')
        .map((s) => s.trim());
      const unknown = list.filter((n) => !(GOAL_NAMES as readonly string[]).includes(n));
      if (unknown.length)
        throw new UsageError(`--only takes goal names (${GOAL_NAMES.join(', ')}), not "${unknown.join(',')}"`);
      only = new Set(list as GoalName[]);
    } else throw new UsageError(`unknown argument "${arg}" (see --help)`);
  }
  const sizes = quick
    ? {
        drainJobs: 600,
        latencySamples: 20,
        enqueueJobs: 2000,
        enqueueRepeats: 2,
        scaleSeedJobs: 20_000,
        scaleDrainJobs: 400,
        exportBytes: 16 << 20,
        postgresJobs: 400,
        idleBots: 10,
        idleJobs: 30,
      }
    : {
        drainJobs: 20_000,
        latencySamples: 300,
        enqueueJobs: 10_000,
        enqueueRepeats: 5,
        scaleSeedJobs: 1_000_000,
        scaleDrainJobs: 10_000,
        exportBytes: 1 << 30,
        postgresJobs: 20_000,
        idleBots: 50,
        idleJobs: 300,
      };
  return { quick, compare, only, redisUrl: e.BENCH_REDIS_URL, sizes };
}
