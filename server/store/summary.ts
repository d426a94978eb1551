/**
 * GET /metrics/summary from the counter tables, never from a count over jobs or results: jobs by
 * status (job_counts, kept by triggers), bots by status (a small table), and finished attempts per
 * UTC minute for the last hour (finished_minutes, kept by a trigger on results).
 */
import type { BotStatus, JobStatus, Summary } from '../../core/types';
import { BOT_STATUSES, JOB_STATUSES } from '../../core/types';
import type { All } from './queries';

type MinuteRow = { minute: number; completed: number; failed: number; duration_sum: number; duration_n: number };

export async function readSummary(all: All, nowMs: number): Promise<Summary> {
  const [counts] = await all<Record<JobStatus, number | null>>(
    `SELECT ${JOB_STATUSES.map((s) => `SUM(${s}) AS ${s}`).join(', ')} FROM job_counts`,
  );
  const jobs = Object.fromEntries(JOB_STATUSES.map((s) => [s, Number(counts?.[s] ?? 0)])) as Record<JobStatus, number>;
  const botRows = await all<{ status: BotStatus; n: number }>('SELECT status, COUNT(*) AS n FROM bots GROUP BY status');
  const bots = Object.fromEntries(BOT_STATUSES.map((s) => [s, 0])) as Record<BotStatus, number>;
  for (const b of botRows) if (b.status in bots) bots[b.status] = Number(b.n);
  const nowMinute = Math.floor(nowMs / 60000);
  const minutes = await all<MinuteRow>(
    `SELECT minute, SUM(completed) AS completed, SUM(failed) AS failed, SUM(duration_sum) AS duration_sum,
       SUM(duration_n) AS duration_n
     FROM finished_minutes WHERE minute > ? GROUP BY minute`,
    [nowMinute - 60],
  );
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
