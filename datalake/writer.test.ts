import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../core/logger';
import type { ResultLine } from '../core/types';
import { listPartitionDays, partitionPath } from './paths';
import { MemoryOutbox, makeResult } from './test-support/memory-outbox';
import { DatalakeWriter } from './writer';
import { waitFor } from '../test/helpers/server-process';
import { testTime } from '../test/helpers/time';

const log = silentLogger();
let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-writer-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function linesOf(day: string): ResultLine[] {
  const text = fs.readFileSync(partitionPath(dir, day), 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map((l) => JSON.parse(l) as ResultLine);
}

/** Waits until check() holds, polling every 5 ms (the limit scaled for slow machines). */
const until = (check: () => boolean, ms = 5000) => waitFor(check, ms, 5);

describe('DatalakeWriter', () => {
  it('appends every result once, grouped by UTC day of finishedAt, in seq order, then marks it written', async () => {
    const src = new MemoryOutbox();
    const a = [makeResult('2026-11-28'), makeResult('2026-11-29'), makeResult('2026-11-28'), makeResult('2026-11-29')];
    src.add(...a);
    const w = new DatalakeWriter({ dir, source: src, log, intervalMs: 0 });
    await w.start();
    await w.flush();
    expect(await listPartitionDays(dir)).toEqual(['2026-11-28', '2026-11-29']);
    expect(linesOf('2026-11-28')).toEqual([a[0], a[2]]);
    expect(linesOf('2026-11-29')).toEqual([a[1], a[3]]);
    expect(src.unwritten()).toBe(0);
    const c = w.counters();
    expect(c.linesWritten).toBe(4);
    expect(c.appends).toBe(2); // one write per partition per batch
    expect(c.bytesWritten).toBe(
      fs.statSync(partitionPath(dir, '2026-11-28')).size + fs.statSync(partitionPath(dir, '2026-11-29')).size,
    );
    await w.stop();
  });

  it('batches: 2,500 rows with batchSize 1000 take three fetch/append/mark steps', async () => {
    const src = new MemoryOutbox();
    for (let i = 0; i < 2500; i++) src.add(makeResult('2026-11-29'));
    const w = new DatalakeWriter({ dir, source: src, log, batchSize: 1000, intervalMs: 0 });
    await w.flush();
    expect(src.calls.markWritten).toBe(3);
    expect(w.counters().appends).toBe(3);
    expect(linesOf('2026-11-29').map((l) => l.resultId)).toEqual(src.all().map((l) => l.resultId));
  });

  it('coalesces notifies: many during a drain cause exactly one more drain', async () => {
    const src = new MemoryOutbox();
    src.add(makeResult('2026-11-29'));
    let open!: () => void;
    src.fetchGate = new Promise((r) => (open = r));
    const w = new DatalakeWriter({ dir, source: src, log, intervalMs: 0 });
    w.notify(); // drain 1 starts and waits in fetchUnwritten
    await until(() => src.calls.fetchUnwritten === 1);
    for (let i = 0; i < 50; i++) {
      src.add(makeResult('2026-11-29'));
      w.notify();
    }
    expect(src.calls.fetchUnwritten).toBe(1);
    src.fetchGate = null;
    open();
    await until(() => src.unwritten() === 0);
    await until(() => src.calls.fetchUnwritten === 2);
    await new Promise((r) => setTimeout(r, 100));
    await w.stop();
    // drain 1 took all 51 rows (they were committed before its fetch returned); the one extra drain found nothing
    expect(src.calls.fetchUnwritten).toBe(2);
    expect(src.calls.markWritten).toBe(1);
    expect(linesOf('2026-11-29')).toHaveLength(51);
  });

  it('waits coalesceMs after a drain before the next, so results finishing one by one share a write; flush() does not wait', async () => {
    const src = new MemoryOutbox();
    src.add(makeResult('2026-11-29'));
    let open!: () => void;
    src.fetchGate = new Promise((r) => (open = r));
    // The gap must outlast the 100 ms look below, on a slow machine too.
    const w = new DatalakeWriter({ dir, source: src, log, intervalMs: 0, coalesceMs: testTime(400) });
    w.notify();
    await until(() => src.calls.fetchUnwritten === 1);
    src.fetchGate = null;
    open();
    await until(() => src.unwritten() === 0);
    for (let i = 0; i < 5; i++) {
      src.add(makeResult('2026-11-29'));
      w.notify(); // after drain 1 took its rows: these wait for the gap
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(src.calls.fetchUnwritten).toBe(1);
    await until(() => src.unwritten() === 0); // then one drain takes all five
    expect(src.calls.fetchUnwritten).toBe(2);
    expect(src.calls.markWritten).toBe(2);
    src.add(makeResult('2026-11-29'));
    w.notify(); // waits for the gap; flush (the SIGTERM path) does not
    await w.flush();
    expect(linesOf('2026-11-29')).toHaveLength(7);
    await w.stop();
  });

  it('a notify after a drain finished starts a new one; the timer is a safety net without notify', async () => {
    const src = new MemoryOutbox();
    const w = new DatalakeWriter({ dir, source: src, log, intervalMs: 20 });
    await w.start();
    src.add(makeResult('2026-11-29'));
    await until(() => src.unwritten() === 0); // no notify: the timer found it
    src.add(makeResult('2026-11-29'));
    w.notify();
    await until(() => src.unwritten() === 0);
    await w.stop();
    expect(linesOf('2026-11-29')).toHaveLength(2);
  });

  it('markWritten failing after the append: retried with backoff, never appended twice', async () => {
    const src = new MemoryOutbox();
    src.add(makeResult('2026-11-29'), makeResult('2026-11-29'));
    src.failMark.push(new Error('database is locked'), new Error('database is locked'));
    const w = new DatalakeWriter({ dir, source: src, log, intervalMs: 0, minBackoffMs: 5 });
    w.notify();
    await until(() => src.unwritten() === 0);
    await w.stop();
    expect(src.calls.markWritten).toBe(3);
    expect(linesOf('2026-11-29')).toEqual(src.all());
    const c = w.counters();
    expect(c.errors).toBe(2);
    expect(c.lastError).toBe('database is locked');
    expect(c.consecutiveErrors).toBe(0);
    expect(c.linesWritten).toBe(2);
  });

  it('an append that fails leaves no partial line and is retried once the disk works again', async () => {
    const src = new MemoryOutbox();
    const day = '2026-11-29';
    src.add(makeResult(day));
    // A directory where the partition should be makes open('a') fail (EISDIR), as a broken disk would.
    fs.mkdirSync(partitionPath(dir, day));
    const w = new DatalakeWriter({ dir, source: src, log, intervalMs: 0, minBackoffMs: 10, maxBackoffMs: 20 });
    w.notify();
    await until(() => w.counters().errors >= 2);
    expect(src.unwritten()).toBe(1);
    expect(w.counters().lastError).toMatch(/EISDIR|illegal operation/);
    fs.rmdirSync(partitionPath(dir, day));
    await until(() => src.unwritten() === 0);
    await w.stop();
    expect(linesOf(day)).toEqual(src.all());
  });

  it('flush() rejects when the outbox cannot be read, and works on the next call', async () => {
    const src = new MemoryOutbox();
    src.add(makeResult('2026-11-29'));
    src.failFetch.push(new Error('connection refused'));
    const w = new DatalakeWriter({ dir, source: src, log, intervalMs: 0 });
    await expect(w.flush()).rejects.toThrow('connection refused');
    await w.flush();
    expect(linesOf('2026-11-29')).toHaveLength(1);
  });

  it('concurrent flushes and notifies never overlap drains (no line written twice)', async () => {
    const src = new MemoryOutbox();
    const w = new DatalakeWriter({ dir, source: src, log, batchSize: 7, intervalMs: 0 });
    const work: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      src.add(makeResult(i % 2 ? '2026-11-29' : '2026-11-30'));
      if (i % 10 === 0) work.push(w.flush());
      else w.notify();
    }
    await Promise.all(work);
    await w.flush();
    await w.stop();
    const ids = [...linesOf('2026-11-29'), ...linesOf('2026-11-30')].map((l) => l.resultId).sort();
    expect(ids).toEqual(
      src
        .all()
        .map((l) => l.resultId)
        .sort(),
    );
  });

  it('stop() ends the timer: nothing is written afterwards', async () => {
    const src = new MemoryOutbox();
    const w = new DatalakeWriter({ dir, source: src, log, intervalMs: 10 });
    await w.start();
    await w.stop();
    src.add(makeResult('2026-11-29'));
    w.notify();
    await new Promise((r) => setTimeout(r, 60));
    expect(src.unwritten()).toBe(1);
  });
});
