/**
 * Progress and log lines on SQLite (store/job-control.ts): each call is one synchronous
 * transaction, so an attempt's counts are read and written with nothing in between.
 */
import { LOG_LIMITS } from '../../../core/job-control';
import { listLogs, refusedUpdate, type JobControlStore } from '../job-control';
import type { All } from '../queries';
import { SQL } from '../queries';
import { type JobRow, toJob } from '../rows';
import { type LogCounts, linesThatFit } from '../rules';
import type { SqliteSteps } from './steps';

const HELD = `id = ? AND bot_id = ? AND attempts = ? AND status IN ('claimed', 'running')`;

export function sqliteJobControl(all: All, atomically: <T>(fn: (s: SqliteSteps) => T) => T): JobControlStore {
  return {
    async progress(call, fraction, message, nowMs) {
      return atomically((s) => {
        const row = s.row<JobRow>(
          `UPDATE jobs SET progress_fraction = ?, progress_message = ?, progress_at = ?, progress_attempt = ?
           WHERE ${HELD} RETURNING *`,
          [fraction, message, nowMs, call.attempt, call.jobId, call.botId, call.attempt],
        );
        if (!row) throw refusedUpdate(s.row<JobRow>(SQL.jobById, [call.jobId]), call, 'given progress');
        return toJob(row);
      });
    },

    async appendLogs(call, lines, dropped) {
      return atomically((s) => {
        if (!s.row(`SELECT 1 FROM jobs WHERE ${HELD}`, [call.jobId, call.botId, call.attempt]))
          throw refusedUpdate(s.row<JobRow>(SQL.jobById, [call.jobId]), call, 'given log lines');
        const key = [call.jobId, call.attempt];
        const counts = s.row<LogCounts>(
          'SELECT lines, bytes FROM job_log_counts WHERE job_id = ? AND attempt = ?',
          key,
        );
        const had = counts ?? { lines: 0, bytes: 0 };
        const fit = linesThatFit(had, lines, LOG_LIMITS.linesPerAttempt, LOG_LIMITS.bytesPerAttempt);
        for (const l of lines.slice(0, fit.n))
          s.exec('INSERT INTO job_logs (job_id, attempt, at, level, line) VALUES (?, ?, ?, ?, ?)', [
            ...key,
            Date.parse(l.at),
            l.level,
            l.line,
          ]);
        const after = s.row<{ lines: number; dropped: number }>(
          `INSERT INTO job_log_counts (job_id, attempt, lines, bytes, dropped) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (job_id, attempt) DO UPDATE SET lines = lines + excluded.lines, bytes = bytes + excluded.bytes,
             dropped = dropped + excluded.dropped RETURNING lines, dropped`,
          [...key, fit.n, fit.bytes, lines.length - fit.n + dropped],
        )!;
        return {
          stored: fit.n,
          dropped: Number(after.dropped),
          full: Number(after.lines) >= LOG_LIMITS.linesPerAttempt || fit.n < lines.length,
        };
      });
    },

    listLogs: (jobId, o) => listLogs(all, jobId, o),
  };
}
