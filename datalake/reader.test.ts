import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { ResultLine } from '../core/types';
import { formatLine } from './line-format';
import { partitionPath } from './paths';
import { DatalakeReader } from './reader';
import { STATS_CACHE_FILE } from './stats-cache';
import { makeResult } from './test-support/memory-outbox';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-reader-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const append = (day: string, rs: ResultLine[]) =>
  fs.appendFileSync(partitionPath(dir, day), rs.map(formatLine).join(''));

/** The expected aggregates of a list of results, computed the slow obvious way. */
function expected(rs: ResultLine[]) {
  const completed = rs.filter((r) => r.status === 'completed').length;
  const withDuration = rs.filter((r) => r.durationMs !== null);
  return {
    results: rs.length,
    completed,
    failed: rs.length - completed,
    successRate: rs.length ? completed / rs.length : null,
    meanDurationMs: withDuration.length
      ? withDuration.reduce((s, r) => s + (r.durationMs as number), 0) / withDuration.length
      : null,
  };
}

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('DatalakeReader.stats', () => {
  it('aggregates per day (newest first) and in total; empty or missing folder gives zeros', async () => {
    const reader = new DatalakeReader(path.join(dir, 'not-yet'));
    expect(await reader.stats()).toEqual({
      days: [],
      total: { results: 0, completed: 0, failed: 0, successRate: null, meanDurationMs: null, bytes: 0, days: 0 },
    });
    const d28 = Array.from({ length: 9 }, () => makeResult('2026-11-28'));
    const d29 = [
      ...Array.from({ length: 5 }, () => makeResult('2026-11-29')),
      makeResult('2026-11-29', { durationMs: null, status: 'failed' }),
    ];
    append('2026-11-28', d28);
    append('2026-11-29', d29);
    const r = new DatalakeReader(dir);
    const s = await r.stats();
    expect(s.days.map((d) => d.date)).toEqual(['2026-11-29', '2026-11-28']);
    expect(s.days[0]).toEqual({
      date: '2026-11-29',
      ...expected(d29),
      bytes: fs.statSync(partitionPath(dir, '2026-11-29')).size,
    });
    expect(s.days[1]).toEqual({
      date: '2026-11-28',
      ...expected(d28),
      bytes: fs.statSync(partitionPath(dir, '2026-11-28')).size,
    });
    expect(s.total).toEqual({ ...expected([...d28, ...d29]), bytes: s.days[0].bytes + s.days[1].bytes, days: 2 });
    expect(await r.listDays()).toEqual(['2026-11-29', '2026-11-28']);
  });

  it('reads only the bytes appended since the last call', async () => {
    const day = '2026-11-29';
    const first = Array.from({ length: 100 }, () => makeResult(day));
    append(day, first);
    const r = new DatalakeReader(dir);
    await r.stats();
    const size1 = fs.statSync(partitionPath(dir, day)).size;
    expect(r.bytesScanned).toBe(size1);
    await r.stats();
    expect(r.bytesScanned).toBe(size1); // nothing new, nothing read
    const more = Array.from({ length: 7 }, () => makeResult(day, { status: 'failed' }));
    append(day, more);
    const s = await r.stats();
    const size2 = fs.statSync(partitionPath(dir, day)).size;
    expect(r.bytesScanned).toBe(size2);
    expect(s.days[0]).toMatchObject({ ...expected([...first, ...more]), bytes: size2 });
  });

  it('counts a line being written only once it is complete', async () => {
    const day = '2026-11-29';
    const [a, b] = [makeResult(day), makeResult(day)];
    append(day, [a]);
    const half = formatLine(b).slice(0, 30);
    fs.appendFileSync(partitionPath(dir, day), half);
    const r = new DatalakeReader(dir);
    expect((await r.stats()).days[0].results).toBe(1);
    fs.appendFileSync(partitionPath(dir, day), formatLine(b).slice(30));
    expect((await r.stats()).days[0]).toMatchObject(expected([a, b]));
  });

  it('recomputes a file that shrank or was replaced (repair rewrite), and forgets deleted days', async () => {
    const day = '2026-11-29';
    const rs = Array.from({ length: 10 }, () => makeResult(day));
    append(day, rs);
    append('2026-11-28', [makeResult('2026-11-28')]);
    const r = new DatalakeReader(dir);
    await r.stats();
    // shrink: keep the first 4 lines
    fs.writeFileSync(partitionPath(dir, day), rs.slice(0, 4).map(formatLine).join(''));
    expect((await r.stats()).days[0]).toMatchObject(expected(rs.slice(0, 4)));
    // replace by rename with a file of the same size but other content: a new inode
    const other = rs.slice(0, 4).map((x) => ({ ...x, status: 'failed' as const }));
    const tmp = partitionPath(dir, day) + '.tmp';
    fs.writeFileSync(tmp, other.map(formatLine).join(''));
    fs.renameSync(tmp, partitionPath(dir, day));
    expect((await r.stats()).days[0]).toMatchObject(expected(other));
    fs.rmSync(partitionPath(dir, '2026-11-28'));
    const s = await r.stats();
    expect(s.days.map((d) => d.date)).toEqual([day]);
    expect(s.total.results).toBe(4);
  });

  it('concurrent calls give the same, correct answer (no double counting)', async () => {
    const day = '2026-11-29';
    const rs = Array.from({ length: 500 }, () => makeResult(day));
    append(day, rs);
    const r = new DatalakeReader(dir);
    const all = await Promise.all([r.stats(), r.stats(), r.stats()]);
    for (const s of all) expect(s.days[0]).toMatchObject(expected(rs));
  });
});

describe('DatalakeReader stats cache on disk', () => {
  const day = '2026-11-29';

  it('a new reader (a restarted server) reads nothing that was already counted', async () => {
    const rs = Array.from({ length: 300 }, () => makeResult(day));
    append(day, rs);
    append('2026-11-28', [makeResult('2026-11-28')]);
    const first = await new DatalakeReader(dir).stats();
    expect(fs.existsSync(path.join(dir, STATS_CACHE_FILE))).toBe(true);
    const r2 = new DatalakeReader(dir);
    expect(await r2.stats()).toEqual(first);
    expect(r2.bytesScanned).toBe(0);
    // appended while "down": only the new bytes are read
    const more = [makeResult(day), makeResult(day)];
    append(day, more);
    const r3 = new DatalakeReader(dir);
    expect((await r3.stats()).days[0]).toMatchObject(expected([...rs, ...more]));
    expect(r3.bytesScanned).toBe(Buffer.byteLength(more.map(formatLine).join('')));
  });

  it('distrusts an entry whose counted bytes changed in place, and a corrupt cache file', async () => {
    const rs = Array.from({ length: 20 }, () => makeResult(day, { status: 'completed' }));
    append(day, rs);
    await new DatalakeReader(dir).stats();
    // same inode, same size: the last line's duration rewritten in place (the cache checks the
    // bytes just before its offset; lines are append-only, so that is where a change shows)
    const size = fs.statSync(partitionPath(dir, day)).size;
    const fd = fs.openSync(partitionPath(dir, day), 'r+');
    fs.writeSync(fd, Buffer.from('999'), 0, 3, size - 5); // ..."durationMs":NNN}\n
    fs.closeSync(fd);
    const changed = rs.map((r, i) => (i === rs.length - 1 ? { ...r, durationMs: 999 } : r));
    const r2 = new DatalakeReader(dir);
    expect((await r2.stats()).days[0]).toMatchObject(expected(changed));
    expect(r2.bytesScanned).toBe(size);

    fs.writeFileSync(path.join(dir, STATS_CACHE_FILE), '{"version":1,"files":{"2026-11-29":{"ino":"x"}}');
    expect((await new DatalakeReader(dir).stats()).days[0].results).toBe(20);
    fs.writeFileSync(path.join(dir, STATS_CACHE_FILE), 'not json');
    expect((await new DatalakeReader(dir).stats()).days[0].results).toBe(20);
  });

  it('persist: false writes nothing; a folder it cannot write to still gives stats', async () => {
    append(day, [makeResult(day)]);
    await new DatalakeReader(dir, { persist: false }).stats();
    expect(fs.existsSync(path.join(dir, STATS_CACHE_FILE))).toBe(false);
    fs.mkdirSync(path.join(dir, STATS_CACHE_FILE)); // a directory in its place makes the rename fail
    const errors: Error[] = [];
    const s = await new DatalakeReader(dir, { onCacheError: (e) => errors.push(e) }).stats();
    expect(s.total.results).toBe(1);
    expect(errors).toHaveLength(1);
  });
});

describe('DatalakeReader export', () => {
  it('streams the exact bytes of the day; null for a day without a file or a bad date', async () => {
    const day = '2026-11-29';
    append(
      day,
      Array.from({ length: 50 }, () => makeResult(day)),
    );
    const r = new DatalakeReader(dir);
    const h = await r.openExport(day);
    expect(h).not.toBeNull();
    const got = await readAll(h!.stream);
    expect(got.equals(fs.readFileSync(partitionPath(dir, day)))).toBe(true);
    expect(h!.bytes).toBe(got.length);
    expect(await r.exportStream('2026-11-01')).toBeNull();
    expect(await r.exportStream('../../etc/passwd')).toBeNull();
    expect(await r.exportStream('2026-02-30')).toBeNull();
  });

  it('leaves out a line still being appended, and serves an empty day as empty', async () => {
    const day = '2026-11-29';
    const a = makeResult(day);
    append(day, [a]);
    fs.appendFileSync(partitionPath(dir, day), '{"resultId":"half');
    const r = new DatalakeReader(dir);
    expect((await readAll((await r.exportStream(day))!)).toString()).toBe(formatLine(a));
    fs.writeFileSync(partitionPath(dir, '2026-11-28'), '');
    expect((await readAll((await r.exportStream('2026-11-28'))!)).length).toBe(0);
  });

  it('a 50 MB day: stats and export stream in bounded memory', async () => {
    const day = '2026-11-29';
    const file = partitionPath(dir, day);
    // ~50 MB from 1 MB blocks of varied lines, with a digest to compare the export against
    const fd = fs.openSync(file, 'w');
    const hash = crypto.createHash('sha256');
    let lines = 0;
    let completed = 0;
    while (fs.fstatSync(fd).size < 50 * 1024 * 1024) {
      const block = Array.from({ length: 3000 }, () => makeResult(day));
      completed += block.filter((b) => b.status === 'completed').length;
      lines += block.length;
      const buf = Buffer.from(block.map(formatLine).join(''));
      hash.update(buf);
      fs.writeSync(fd, buf);
    }
    fs.closeSync(fd);
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    const r = new DatalakeReader(dir);
    const s = await r.stats();
    expect(s.days[0]).toMatchObject({ results: lines, completed, failed: lines - completed });
    const out = crypto.createHash('sha256');
    let bytes = 0;
    for await (const c of (await r.exportStream(day))!) {
      out.update(c as Buffer);
      bytes += (c as Buffer).length;
    }
    expect(bytes).toBe(fs.statSync(file).size);
    expect(out.digest('hex')).toBe(hash.digest('hex'));
    // Loose: a reader that loaded the file would grow by >= 50 MB (twice that as a JS string).
    expect(process.memoryUsage().rss - rss0).toBeLessThan(40 * 1024 * 1024);
  });
});
