/**
 * Progress and log lines on PostgreSQL (store/job-control.ts): each a call of botfleet_progress or
 * botfleet_append_logs (migrations/0004_job_control.ts), guarded by the bot holding the job at the
 * attempt; when it does not, the job is read to say why (404, 409).
 */
import { LOG_LIMITS } from '../../../core/job-control';
import { listLogs, refusedUpdate, type JobControlStore } from '../job-control';
import type { All } from '../queries';
import { SQL } from '../queries';
import { type JobRow, toJob } from '../rows';

type Call = <T>(fn: string, args: readonly unknown[]) => Promise<T[]>;

export function postgresJobControl(all: All, call: Call): JobControlStore {
  const refused = async (c: { jobId: string; botId: string; attempt: number }, verb: string) =>
    refusedUpdate((await all<JobRow>(SQL.jobById, [c.jobId]))[0], c, verb);
  return {
    async progress(c, fraction, message, nowMs) {
      const [row] = await call<JobRow>('botfleet_progress', [c.botId, c.jobId, c.attempt, fraction, message, nowMs]);
      if (!row) throw await refused(c, 'given progress');
      return toJob(row);
    },

    async appendLogs(c, lines, dropped) {
      const json = JSON.stringify(
        lines.map((l) => ({ at: Date.parse(l.at), level: l.level, line: wellFormed(l.line) })),
      );
      const args = [c.botId, c.jobId, c.attempt, json, dropped, LOG_LIMITS.linesPerAttempt, LOG_LIMITS.bytesPerAttempt];
      const [r] = await call<{ stored: number; dropped_total: string; lines_total: number }>(
        'botfleet_append_logs',
        args,
      );
      if (!r) throw await refused(c, 'given log lines');
      return {
        stored: r.stored,
        dropped: Number(r.dropped_total),
        full: r.lines_total >= LOG_LIMITS.linesPerAttempt || r.stored < lines.length,
      };
    },

    listLogs: (jobId, o) => listLogs(all, jobId, o),
  };
}

/** A lone UTF-16 surrogate as U+FFFD, as node-postgres encodes a parameter (in JSON PostgreSQL would refuse its escape). */
const wellFormed = (s: string) =>
  s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
