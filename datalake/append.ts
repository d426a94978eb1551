/**
 * Appends a group of lines to one partition with ONE write and an fsync. If anything fails after
 * bytes may have reached the file, the file is cut back to its size before the write, so a failed
 * append never leaves a half line in front of the next one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { partitionPath } from './paths';

/** fsyncs a folder so that a newly created (or renamed) file name survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  let h: fs.promises.FileHandle | undefined;
  try {
    h = await fs.promises.open(dir, 'r');
    await h.sync();
  } catch (err) {
    // Some file systems refuse fsync on a directory (EISDIR/EINVAL/EPERM); the data itself is synced.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM') throw err;
  } finally {
    await h?.close();
  }
}

/** Appends `data` (whole lines, ending in "\n") to the day's partition and fsyncs it. Returns bytes written. */
export async function appendToPartition(dir: string, day: string, data: Buffer): Promise<number> {
  if (data.length === 0) return 0;
  const file = partitionPath(dir, day);
  let h: fs.promises.FileHandle;
  try {
    h = await fs.promises.open(file, 'a');
  } catch (err) {
    // The folder was removed under a running server (an operator clearing it): make it again.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    h = await fs.promises.open(file, 'a');
  }
  let sizeBefore = -1;
  try {
    sizeBefore = (await h.stat()).size;
    let off = 0;
    while (off < data.length) {
      const { bytesWritten } = await h.write(data, off, data.length - off);
      off += bytesWritten;
    }
    await h.sync();
  } catch (err) {
    if (sizeBefore >= 0) {
      await h.truncate(sizeBefore).catch(() => undefined);
    }
    await h.close().catch(() => undefined);
    throw err;
  }
  await h.close();
  if (sizeBefore === 0) await syncDir(path.dirname(file));
  return data.length;
}
