import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatLine } from './line-format';
import { collectIds, hashId, scanPartition } from './partition-scan';
import { makeResult } from './test-support/memory-outbox';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-scan-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('scanPartition', () => {
  const day = '2026-11-29';
  const rs = Array.from({ length: 200 }, () => makeResult(day));
  // lines: all 200, then copies of #3 and #150 (twice), and a stray line
  const content = [...rs, rs[3], rs[150], rs[150]].map(formatLine).join('') + 'stray\n';
  const offsetOf = (k: number) => Buffer.byteLength([...rs, rs[3], rs[150]].slice(0, k).map(formatLine).join(''));

  it.each([
    ['the real hash', hashId],
    ['a hash where every id collides', () => 42],
    ['a hash with many collisions', (id: string) => id.length % 3],
  ])('finds exactly the later copies with %s', async (_name, hash) => {
    const file = path.join(dir, 'p.ndjson');
    fs.writeFileSync(file, content);
    const scan = await scanPartition(file, hash);
    expect(scan.distinct).toBe(200);
    expect(scan.malformed).toBe(1);
    expect(scan.lines).toBe(204);
    expect(scan.duplicates).toEqual([
      [offsetOf(200), Buffer.byteLength(formatLine(rs[3]))],
      [offsetOf(201), Buffer.byteLength(formatLine(rs[150]))],
      [offsetOf(202), Buffer.byteLength(formatLine(rs[150]))],
    ]);
    expect(await collectIds(file)).toEqual(new Set(rs.map((r) => r.resultId)));
  });

  it('hashId spreads ids: no collision among 100,000 typical ids', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 100_000; i++)
      seen.add(hashId(`0190f3a2-${i.toString(16).padStart(4, '0')}-7abc-9def-${(i * 7919).toString(16)}`));
    expect(seen.size).toBe(100_000);
    for (const h of seen) {
      expect(Number.isSafeInteger(h)).toBe(true);
      break;
    }
  });
});
