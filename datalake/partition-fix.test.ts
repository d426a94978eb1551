import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatLine } from './line-format';
import { SCAN_CHUNK_BYTES } from './line-scanner';
import { completeLength, cutTornTail, rewriteWithout, TEMP_SUFFIX } from './partition-fix';
import { scanPartition } from './partition-scan';
import { makeResult } from './test-support/memory-outbox';

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-fix-'));
  file = path.join(dir, 'results-2026-11-29.ndjson');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('cutTornTail', () => {
  it('leaves a file ending in "\\n" (and an empty one) alone', async () => {
    fs.writeFileSync(file, 'a\nb\n');
    expect(await cutTornTail(file)).toBe(0);
    fs.writeFileSync(file, '');
    expect(await cutTornTail(file)).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toBe('');
  });

  it('cuts a torn line longer than its 64 KiB read-back step, and a file with no complete line at all', async () => {
    const torn = 'x'.repeat(200_000);
    fs.writeFileSync(file, `first\n${torn}`);
    expect(await completeLength(file)).toBe(6);
    expect(await cutTornTail(file)).toBe(200_000);
    expect(fs.readFileSync(file, 'utf8')).toBe('first\n');
    fs.writeFileSync(file, torn);
    expect(await cutTornTail(file)).toBe(200_000);
    expect(fs.statSync(file).size).toBe(0);
  });
});

describe('rewriteWithout', () => {
  it('drops exactly the duplicated lines of a multi-chunk file, wherever the chunk borders fall', async () => {
    const day = '2026-11-29';
    const rs = Array.from({ length: 6000 }, () => makeResult(day));
    const order: number[] = [];
    for (let i = 0; i < rs.length; i++) {
      order.push(i);
      if (i % 997 === 5) order.push(i - 3); // a later copy of an earlier line every ~1000 lines
    }
    fs.writeFileSync(file, order.map((i) => formatLine(rs[i])).join(''));
    expect(fs.statSync(file).size).toBeGreaterThan(2 * SCAN_CHUNK_BYTES);
    const scan = await scanPartition(file);
    expect(scan.duplicates.length).toBe(order.length - rs.length);
    const ino = fs.statSync(file).ino;
    await rewriteWithout(file, scan.duplicates);
    expect(fs.readFileSync(file, 'utf8')).toBe(rs.map(formatLine).join(''));
    expect(fs.statSync(file).ino).not.toBe(ino); // replaced by rename, never edited in place
    expect(fs.existsSync(file + TEMP_SUFFIX)).toBe(false);
  });

  it('drops ranges that span a chunk border, and the very first and last line', async () => {
    const size = SCAN_CHUNK_BYTES + 100;
    const content = Buffer.alloc(size);
    for (let i = 0; i < size; i++) content[i] = i % 251;
    const drop: Array<[number, number]> = [
      [0, 10],
      [SCAN_CHUNK_BYTES - 5, 20],
      [size - 7, 7],
    ];
    await fs.promises.writeFile(file, content);
    await rewriteWithout(file, drop);
    const expected = Buffer.concat([
      content.subarray(10, SCAN_CHUNK_BYTES - 5),
      content.subarray(SCAN_CHUNK_BYTES + 15, size - 7),
    ]);
    expect(fs.readFileSync(file).equals(expected)).toBe(true);
  });
});
