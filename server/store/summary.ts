/**
 * GET /metrics/summary from the counter tables, never from a count over jobs or results: counts by
 * status (kept by triggers), bots by status (a small table), and finished attempts per UTC minute
 * for the last hour (throughput, mean duration).
 */
import type { BotStatus, JobStatus, Summary } from '../../core/types';
import { BOT_STATUSES, JOB_STATUSES } from '../../core/types';
import { type Executor, run } from './sql';

export async function readSummary(db: Executor, nowMs: number): Promise<Summary> {
  const counts = (
    await run<{ status: JobStatus; n: number }>(db, 'SELECT status, SUM(n) AS n FROM job_counts GROUP BY status')
  ).rows;
  const jobs = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
  for (const c of counts) if (c.status in jobs) jobs[c.status] = Number(c.n);
  const botRows = (
    await run<{ status: BotStatus; n: number }>(db, 'SELECT status, COUNT(*) AS n FROM bots GROUP BY status')
  ).rows;
  const bots = Object.fromEntries(BOT_STATUSES.map((s) => [s, 0])) as Record<BotStatus, number>;
  for (const b of botRows) if (b.status in bots) bots[b.status] = Number(b.n);
  const nowMinute = Math.floor(nowMs / 60000);
  const minutes = (
    await run<{ minute: number; completed: number; failed: number; duration_sum: number; duration_n: number }>(
      db,
      `SELECT minute, SUM(completed) AS completed, SUM(failed) AS failed, SUM(duration_sum) AS duration_sum, SUM(duration_n) AS duration_n
       FROM finished_minutes WHERE minute > ? GROUP BY minute`,
      [nowMinute - 60],
    )
  ).rows;
  const byMinute = new Map(minutes.map((m) => [Number(m.minute), m]));
  const throughput = [];
  let lastMinute = 0;
  let last5 = 0;
  let lastHour = 0;
  let durSum = 0;
  let durN = 0;
  for (let m = nowMinute - 59; m <= nowMinute; m++) {
    const b = byMinute.get(m);
    const c = Number(b?.completed ?? 0);
    const f = Number(b?.failed ?? 0);
    throughput.push({ minute: new Date(m * 60000).toISOString(), completed: c, failed: f });
    lastHour += c + f;
    if (m > nowMinute - 5) last5 += c + f;
    if (m === nowMinute) lastMinute += c + f;
    durSum += Number(b?.duration_sum ?? 0);
    durN += Number(b?.duration_n ?? 0);
  }
  const finishedTotal = jobs.completed + jobs.failed;
  return {
    jobs: { ...jobs, total: Object.values(jobs).reduce((a, b) => a + b, 0) },
    bots: { ...bots, total: bots.idle + bots.busy + bots.down },
    finished: { lastMinute, last5Minutes: last5, lastHour },
    successRate: finishedTotal === 0 ? null : jobs.completed / finishedTotal,
    meanProcessingMs: durN === 0 ? null : Math.round(durSum / durN),
    throughput,
  };
}
