/**
 * New jobs: their ids and the values both stores insert. A new job is answered from these values,
 * not read back: every column but `seq` is set here, and the answer has no `seq`.
 */
import { randomUUID } from 'node:crypto';
import type { CreateJob, Job } from '../../core/types';
import type { StoreOptions } from './types';

/**
 * A job id: a UUID in the version-7 layout (RFC 9562): 48 bits of ms time, a 12-bit counter that
 * keeps ids of one process increasing within a millisecond (a bulk insert of 10,000 jobs shares one
 * time), then 62 random bits. Ids made in order sort in order, so the indexes on job ids grow at
 * their right edge instead of dirtying a random page each (on SQLite every page a transaction
 * touches is one more frame written to the WAL). Ids stay opaque to clients (docs/api.md).
 */
let lastIdMs = 0;
let idSeq = 0;
/** "tttttttt-tttt-" of lastIdMs: a bulk insert makes thousands of ids in one millisecond. */
let timePart = '';
function timeOrderedId(nowMs: number): string {
  let ms = Math.max(Math.floor(nowMs), lastIdMs);
  if (ms === lastIdMs && timePart !== '') {
    if (++idSeq > 0xfff) {
      ms++; // the counter is spent: borrow the next millisecond, as RFC 9562 allows
      idSeq = 0;
    }
  } else idSeq = 0;
  if (ms !== lastIdMs || timePart === '') {
    const t = ms.toString(16).padStart(12, '0').slice(-12);
    timePart = `${t.slice(0, 8)}-${t.slice(8, 12)}-`;
  }
  lastIdMs = ms;
  const r = randomUUID(); // xxxxxxxx-xxxx-4xxx-vxxx-xxxxxxxxxxxx: keep the variant and 62 random bits
  return `${timePart}7${idSeq.toString(16).padStart(3, '0')}-${r.slice(19)}`;
}

/** A new job and the values of its row that vary from job to job (the rest is a pending job's constants). */
export interface NewJob {
  job: Job;
  /** The columns id, type, payload, max_attempts, priority, run_at, timeout_ms, key, in this order. */
  values: [string, string, string, number, number, number | null, number, string | null];
}

export function newJobs(inputs: readonly CreateJob[], nowMs: number, opts: StoreOptions): NewJob[] {
  const createdAt = new Date(nowMs).toISOString();
  return inputs.map((j) => {
    const runAtMs = j.runAt ? Date.parse(j.runAt) : null;
    const job: Job = {
      id: timeOrderedId(nowMs),
      type: j.type,
      payload: j.payload ?? {},
      status: 'pending',
      botId: null,
      attempts: 0,
      maxAttempts: j.maxAttempts ?? opts.defaultMaxAttempts,
      priority: j.priority ?? 0,
      runAt: runAtMs === null ? null : new Date(runAtMs).toISOString(),
      key: j.key ?? null,
      timeoutMs: j.timeoutMs ?? opts.defaultTimeoutMs,
      createdAt,
      claimedAt: null,
      startedAt: null,
      finishedAt: null,
      leaseExpiresAt: null,
      result: null,
      error: null,
      schedule: null,
      progress: null,
    };
    const values: NewJob['values'] = [
      job.id,
      job.type,
      JSON.stringify(job.payload),
      job.maxAttempts,
      job.priority,
      runAtMs,
      job.timeoutMs,
      job.key,
    ];
    return { job, values };
  });
}
