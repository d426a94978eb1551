import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { partitionPath } from './paths';
import { applyRetention } from './retention';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-retention-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const NOW = Date.parse('2026-11-29T21:00:00.000Z');
const DAYS = ['2026-10-30', '2026-11-21', '2026-11-22', '2026-11-23', '2026-11-28', '2026-11-29', '2026-11-30'];

beforeEach(() => {
  for (const d of DAYS) fs.writeFileSync(partitionPath(dir, d), `${d}\n`);
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a partition');
});

describe('applyRetention', () => {
  it('keeps the N newest UTC days counting today and deletes only older partitions', async () => {
    const r = await applyRetention(dir, 7, NOW);
    expect(r.deleted).toEqual(['2026-10-30', '2026-11-21', '2026-11-22']);
    expect(r.keepFrom).toBe('2026-11-23');
    expect(r.bytes).toBe(33);
    expect(fs.readdirSync(dir).sort()).toEqual([
      'notes.txt',
      'results-2026-11-23.ndjson',
      'results-2026-11-28.ndjson',
      'results-2026-11-29.ndjson',
      'results-2026-11-30.ndjson',
    ]);
  });

  it('1 keeps only today (and future-dated files); 0 keeps everything', async () => {
    expect((await applyRetention(dir, 0, NOW)).deleted).toEqual([]);
    expect(fs.readdirSync(dir)).toHaveLength(DAYS.length + 1);
    const r = await applyRetention(dir, 1, new Date(NOW));
    expect(r.deleted).toEqual(DAYS.slice(0, 5));
    expect(fs.existsSync(partitionPath(dir, '2026-11-29'))).toBe(true);
  });

  it('rejects a negative or fractional number of days, and a missing folder is fine', async () => {
    await expect(applyRetention(dir, -1, NOW)).rejects.toThrow();
    await expect(applyRetention(dir, 1.5, NOW)).rejects.toThrow();
    expect((await applyRetention(path.join(dir, 'none'), 3, NOW)).deleted).toEqual([]);
  });
});
