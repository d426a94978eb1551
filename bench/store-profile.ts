/**
 * The store alone, in-process, on a fresh SQLite file: `loops` concurrent bots run report+claim
 * (finishAndClaim, the lean path) until `jobs` jobs are done. Prints µs per job, the time of each
 * statement per job, and WAL frames (4 KB pages) written per job: what COMMIT costs and why.
 *
 * Usage: node --import tsx bench/store-profile.ts [jobs=5000] [loops=1]
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';
import path from 'node:path';
import { tempDir } from '../test/helpers/server-process';
import { openStore } from '../server/store/open';
import type { SqliteStore } from '../server/store/sqlite/store';
import { countArg, scriptArgs } from './cli';
import { reportAndClaimLoops, STORE_OPTIONS } from './store-alone';

async function main(): Promise<void> {
  const usage = 'node --import tsx bench/store-profile.ts [jobs=5000] [loops=1]';
  const [jobsArg, loopsArg] = scriptArgs(usage);
  const jobs = countArg(usage, 'jobs', jobsArg, 5000);
  const loops = countArg(usage, 'loops', loopsArg, 1);
  const dir = tempDir('botfleet-store-profile-');
  const store = (await openStore(`sqlite://${path.join(dir, 'jobs.db')}`, STORE_OPTIONS)) as SqliteStore;
  await store.migrate();
  for (let i = 0; i < jobs; i += 10_000)
    await store.createJobs(
      Array.from({ length: Math.min(10_000, jobs - i) }, () => ({ type: 'simulated', payload: {}, priority: 0 })),
      Date.now(),
    );
  const steps = store.steps;
  const bots = Array.from({ length: loops }, (_, i) => `profile-bot-${i}`);
  for (const b of bots) await store.registerBot({ id: b }, 0);
  steps.db.pragma('wal_checkpoint(TRUNCATE)');
  steps.db.pragma('wal_autocheckpoint = 0'); // let the WAL grow so its size counts the frames
  // The store's checkpoint thread would copy the WAL back and restart it; a read transaction kept
  // open from here on pins the WAL, so it only grows and its size counts the frames written.
  const pin = new Database(path.join(dir, 'jobs.db'));
  pin.exec('BEGIN');
  pin.prepare('SELECT count(*) FROM bots').get();
  const times = new Map<string, number>();
  for (const method of ['rows', 'row', 'exec'] as const) {
    const original = steps[method].bind(steps) as (sql: string, args?: readonly unknown[]) => unknown;
    (steps as unknown as Record<string, typeof original>)[method] = (sql, args) => {
      const t = performance.now();
      try {
        return original(sql, args);
      } finally {
        const k = sql.replace(/\s+/g, ' ').slice(0, 72);
        times.set(k, (times.get(k) ?? 0) + performance.now() - t);
      }
    };
  }
  const t0 = performance.now();
  const done = await reportAndClaimLoops(store, bots);
  const us = (ms: number) => ((ms * 1000) / done).toFixed(1).padStart(7);
  const walBytes = fs.statSync(path.join(dir, 'jobs.db-wal')).size;
  process.stdout.write(
    `${done} jobs, ${loops} loop(s): ${us(performance.now() - t0)} us per job; WAL ${((walBytes - 32) / (4096 + 24) / done).toFixed(1)} frames per job\n`,
  );
  for (const [k, v] of [...times].sort((a, b) => b[1] - a[1])) process.stdout.write(`${us(v)} us  ${k}\n`);
  pin.exec('COMMIT');
  pin.close();
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

void main();
