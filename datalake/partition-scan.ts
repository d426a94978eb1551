/**
 * Reading a partition's resultIds for repair without holding them all as strings: a 1 GB day has
 * ~3 M lines, and a Set of 3 M ids costs ~400 MB. The first pass keeps one 53-bit hash per line in
 * a Float64Array (8 bytes a line); equal hashes are only candidates, confirmed by a second pass that
 * compares the real ids of those few lines. So duplicates and the count of distinct ids are exact.
 */
import { resultIdOfBytes } from './line-format';
import { scanLines } from './line-scanner';

/** A 53-bit hash of a string (two 32-bit multiplicative hashes): exact as a double, rarely equal. */
export function hashId(id: string): number {
  let a = 0x811c9dc5;
  let b = 0x2545f491;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a ^= a >>> 13;
  a = Math.imul(a, 0x85ebca6b);
  a ^= a >>> 16;
  b = Math.imul(b ^ (b >>> 13), 0xc2b2ae35);
  b ^= b >>> 16;
  return (b & 0x1fffff) * 0x100000000 + (a >>> 0);
}

export interface PartitionScan {
  /** Distinct resultIds in the file (exact). */
  distinct: number;
  /** [offset, length incl. "\n"] of every later copy of an id seen earlier, in file order. */
  duplicates: Array<[number, number]>;
  /** Lines that are not results (kept as they are; stats skip them). */
  malformed: number;
  lines: number;
}

/**
 * Counts distinct ids and finds duplicated lines in one pass (two when hashes collide). `hash` is a
 * parameter so tests can force collisions.
 */
export async function scanPartition(file: string, hash: (id: string) => number = hashId): Promise<PartitionScan> {
  let hashes = new Float64Array(1 << 16);
  let n = 0;
  let malformed = 0;
  const { lines } = await scanLines(file, (bytes) => {
    const id = resultIdOfBytes(bytes);
    if (id === null) {
      malformed++;
      return;
    }
    if (n === hashes.length) {
      const bigger = new Float64Array(hashes.length * 2);
      bigger.set(hashes);
      hashes = bigger;
    }
    hashes[n++] = hash(id);
  });
  const sorted = hashes.subarray(0, n).sort();
  const candidates = new Set<number>();
  for (let i = 1; i < n; i++) if (sorted[i] === sorted[i - 1]) candidates.add(sorted[i]);
  hashes = new Float64Array(0); // let the big array go before the second pass

  const duplicates: Array<[number, number]> = [];
  if (candidates.size > 0) {
    const seen = new Set<string>();
    await scanLines(file, (bytes, offset) => {
      const id = resultIdOfBytes(bytes);
      if (id === null || !candidates.has(hash(id))) return;
      if (seen.has(id)) duplicates.push([offset, bytes.length + 1]);
      else seen.add(id);
    });
  }
  return { distinct: n - duplicates.length, duplicates, malformed, lines };
}

/** Every resultId in the file, as strings (used only when the store's results are loaded anyway). */
export async function collectIds(file: string): Promise<Set<string>> {
  const ids = new Set<string>();
  await scanLines(file, (bytes) => {
    const id = resultIdOfBytes(bytes);
    if (id !== null) ids.add(id);
  });
  return ids;
}
