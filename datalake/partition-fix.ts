/**
 * Low-level partition surgery for repair: cutting a torn last line and rewriting a file without
 * some lines (temp file + fsync + rename, so a crash mid-repair leaves either the
 * old file or the new one, never a mix).
 */
import fs from 'node:fs';
import path from 'node:path';
import { syncDir } from './append';

const TAIL_STEP = 64 * 1024;
export const TEMP_SUFFIX = '.repair-tmp';

/** Offset just after the last "\n" in the first `size` bytes of an open file (0 when there is none). */
async function endOfLastLine(h: fs.promises.FileHandle, size: number): Promise<number> {
  const buf = Buffer.alloc(TAIL_STEP);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - TAIL_STEP);
    const { bytesRead } = await h.read(buf, 0, end - start, start);
    const nl = buf.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (nl >= 0) return start + nl + 1;
    end = start;
  }
  return 0;
}

/** Offset just after the last complete line of a file; its size when the file ends in "\n". */
export async function completeLength(file: string): Promise<number> {
  const h = await fs.promises.open(file, 'r');
  try {
    const { size } = await h.stat();
    return await endOfLastLine(h, size);
  } finally {
    await h.close();
  }
}

/** Truncates a file that does not end in "\n" to just after its last "\n". Returns the bytes cut. */
export async function cutTornTail(file: string): Promise<number> {
  const h = await fs.promises.open(file, 'r+');
  try {
    const { size } = await h.stat();
    if (size === 0) return 0;
    const last = Buffer.alloc(1);
    await h.read(last, 0, 1, size - 1);
    if (last[0] === 0x0a) return 0;
    const keep = await endOfLastLine(h, size);
    await h.truncate(keep);
    await h.sync();
    return size - keep;
  } finally {
    await h.close();
  }
}

/** Rewrites `file` without the given byte ranges (sorted, non-overlapping), atomically. */
export async function rewriteWithout(file: string, drop: Array<[number, number]>): Promise<void> {
  const tmp = `${file}${TEMP_SUFFIX}`;
  const out = await fs.promises.open(tmp, 'w');
  try {
    let pos = 0; // file offset of the current chunk
    let d = 0; // next range to drop
    for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      const chunkEnd = pos + chunk.length;
      let from = pos; // next file offset of this chunk to copy
      while (from < chunkEnd) {
        // skip ranges that ended before `from`
        while (d < drop.length && drop[d][0] + drop[d][1] <= from) d++;
        const next = d < drop.length ? drop[d] : null;
        if (!next || next[0] >= chunkEnd) {
          await writeAll(out, chunk.subarray(from - pos));
          from = chunkEnd;
        } else if (next[0] > from) {
          await writeAll(out, chunk.subarray(from - pos, next[0] - pos));
          from = next[0];
        } else {
          from = Math.min(chunkEnd, next[0] + next[1]);
        }
      }
      pos = chunkEnd;
    }
    await out.sync();
  } catch (err) {
    await out.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  await out.close();
  await fs.promises.rename(tmp, file);
  await syncDir(path.dirname(file));
}

async function writeAll(h: fs.promises.FileHandle, data: Buffer): Promise<void> {
  let off = 0;
  while (off < data.length) off += (await h.write(data, off, data.length - off)).bytesWritten;
}

/** Removes temp files a crashed rewrite left behind (the original is intact: rename is atomic). */
export async function removeTempFiles(dir: string): Promise<number> {
  let n = 0;
  for (const name of await fs.promises.readdir(dir)) {
    if (name.endsWith(TEMP_SUFFIX)) {
      await fs.promises.rm(path.join(dir, name), { force: true });
      n++;
    }
  }
  return n;
}
