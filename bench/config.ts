/**
 * Benchmark options: the only reader of argv and process.env in bench/. Flags choose what to run;
 * the one variable says where Redis is (only for --compare).
 */
import path from 'node:path';
import { z } from 'zod';
import { envString, parseEnv } from '../core/config';

export const ALL_GOALS = [1, 2, 3, 4, 5, 6] as const;

export interface BenchOptions {
  quick: boolean;
  compare: boolean;
  only: ReadonlySet<number>;
  redisUrl: string;
  /** With --profile=DIR every server process writes a V8 CPU profile there when it stops. */
  profileDir: string | null;
  /** Sizes: the in a full run, small ones with --quick (the harness test). */
  sizes: Readonly<{
    drainJobs: number;
    latencySamples: number;
    enqueueJobs: number;
    enqueueRepeats: number;
    scaleSeedJobs: number;
    scaleDrainJobs: number;
    exportBytes: number;
    postgresJobs: number;
  }>;
}

const Env = z.object({ BENCH_REDIS_URL: envString('redis://127.0.0.1:6379').pipe(z.url()) });

export const BENCH_HELP = `npm run bench [-- --quick] [-- --only=1,2] [-- --compare]

Runs the performance goals of docs/performance.md against real processes (the server, 4 bots,
lean clients, PostgreSQL) and prints one table: each figure, its target, the ratio, met or not.

  --quick       small sizes (seconds): proves the harness, numbers are not meaningful
  --only=LIST   goals to run, e.g. --only=1,2 (default: all of 1-6)
  --compare     also runs BullMQ 6.7 (4 workers x concurrency 1) in the same run: goal 1's anchor
  --profile=DIR every server process writes a CPU profile (node --cpu-prof) into DIR; summarise one
                with: node --import tsx bench/profile-summary.ts DIR/<file>.cpuprofile
  --help        this text

Environment:
  BENCH_REDIS_URL   Redis for --compare [redis://127.0.0.1:6379]
PostgreSQL for goal 6: TEST_POSTGRES_URL [postgres://postgres@127.0.0.1:5432/test], a fresh schema per run.`;

export class UsageError extends Error {}

export function parseBenchOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  const e = parseEnv(Env, env);
  let quick = false;
  let compare = false;
  let only = new Set<number>(ALL_GOALS);
  let profileDir: string | null = null;
  for (const arg of argv) {
    if (arg === '--quick') quick = true;
    else if (arg === '--compare') compare = true;
    else if (arg.startsWith('--profile=') && arg.length > '--profile='.length)
      profileDir = path.resolve(arg.slice('--profile='.length));
    else if (arg.startsWith('--only=')) {
      const list = arg
        .slice('--only='.length)
        .split(',')
        .map((s) => Number(s.trim()));
      if (list.length === 0 || list.some((n) => !ALL_GOALS.includes(n as (typeof ALL_GOALS)[number]))) {
        throw new UsageError(`--only takes goal numbers 1-6 separated by commas, got "${arg}"`);
      }
      only = new Set(list);
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
      };
  return { quick, compare, only, redisUrl: e.BENCH_REDIS_URL, profileDir, sizes };
}
