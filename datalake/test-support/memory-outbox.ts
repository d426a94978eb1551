/**
 * An in-memory OutboxSource for the datalake's own tests: a test double of the interface (the
 * store's tests cover the real SQLite/PostgreSQL one). It behaves like the store: rows are kept in
 * seq order, fetchUnwritten returns the oldest unwritten, and faults can be injected per call.
 */
import type { ResultLine } from '../../core/types';
import { dayOf } from '../paths';
import type { OutboxRecord, OutboxSource } from '../types';

export class MemoryOutbox implements OutboxSource {
  private readonly rows: Array<{ seq: number; line: ResultLine; written: boolean }> = [];
  private nextSeq = 1;
  /** Calls of each method, to check batching and coalescing. */
  readonly calls = { fetchUnwritten: 0, markWritten: 0, resultsForDay: 0, days: 0, countForDay: 0 };
  /** Errors thrown by the next calls of markWritten / fetchUnwritten (consumed one per call). */
  failMark: Error[] = [];
  failFetch: Error[] = [];
  /** Lets a test hold fetchUnwritten open (to test coalescing). */
  fetchGate: Promise<void> | null = null;

  /** Commits results as the store would with the job's final state; returns their seqs. */
  add(...lines: ResultLine[]): number[] {
    return lines.map((line) => {
      const seq = this.nextSeq++;
      this.rows.push({ seq, line, written: false });
      return seq;
    });
  }

  unwritten(): number {
    return this.rows.filter((r) => !r.written).length;
  }

  all(): ResultLine[] {
    return this.rows.map((r) => r.line);
  }

  async fetchUnwritten(limit: number): Promise<OutboxRecord[]> {
    this.calls.fetchUnwritten++;
    if (this.fetchGate) await this.fetchGate;
    const err = this.failFetch.shift();
    if (err) throw err;
    return this.rows
      .filter((r) => !r.written)
      .slice(0, limit)
      .map((r) => ({ seq: r.seq, line: r.line }));
  }

  async markWritten(seqs: number[]): Promise<void> {
    this.calls.markWritten++;
    const err = this.failMark.shift();
    if (err) throw err;
    const set = new Set(seqs);
    for (const r of this.rows) if (set.has(r.seq)) r.written = true;
  }

  async resultsForDay(day: string): Promise<ResultLine[]> {
    this.calls.resultsForDay++;
    return this.rows.filter((r) => dayOf(r.line.finishedAt) === day).map((r) => r.line);
  }

  /** Makes this source a CountingOutboxSource (the optional countForDay capability). */
  enableCount(): this {
    (this as unknown as { countForDay: (day: string) => Promise<number> }).countForDay = async (day: string) => {
      this.calls.countForDay++;
      return this.rows.filter((r) => dayOf(r.line.finishedAt) === day).length;
    };
    return this;
  }

  async days(): Promise<string[]> {
    this.calls.days++;
    return [...new Set(this.rows.map((r) => dayOf(r.line.finishedAt)))].sort();
  }
}

let counter = 0;

/** A finished attempt on `day` (YYYY-MM-DD); fields vary with the counter so lines differ. */
export function makeResult(day: string, over: Partial<ResultLine> = {}): ResultLine {
  const n = ++counter;
  const finishedMs = Date.parse(`${day}T00:00:00.000Z`) + ((n * 7919) % 86_400_000);
  const durationMs = 100 + (n % 50) * 10;
  const failed = n % 4 === 0;
  return {
    resultId: `r-${n}-${Math.random().toString(36).slice(2, 10)}`,
    jobId: `job-${n}`,
    attempt: 1,
    botId: `bot-${n % 3}`,
    type: 'simulated',
    status: failed ? 'failed' : 'completed',
    result: failed ? null : { value: n, note: 'line "quoted"\nwith newline' },
    error: failed ? 'simulated failure' : null,
    createdAt: new Date(finishedMs - durationMs - 50).toISOString(),
    claimedAt: new Date(finishedMs - durationMs - 10).toISOString(),
    startedAt: new Date(finishedMs - durationMs).toISOString(),
    finishedAt: new Date(finishedMs).toISOString(),
    durationMs,
    ...over,
  };
}
