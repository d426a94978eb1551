/**
 * Streams the complete lines of a file range in constant memory (1 MiB chunks). A trailing partial
 * line (a torn tail, or a write in progress) is not delivered: `consumedTo` stops after the last
 * "\n", so an incremental reader can resume exactly there.
 */
import fs from 'node:fs';

export const SCAN_CHUNK_BYTES = 1 << 20;
const NL = 0x0a;

export interface ScanResult {
  /** Offset just after the last "\n" delivered (= start when no complete line was found). */
  consumedTo: number;
  lines: number;
}

/**
 * Calls onLine(bytes, offset) for every complete line in [start, end) of the file, without its "\n";
 * `offset` is where the line starts. `end` defaults to the size at open. The buffer handed over is
 * only valid during the call (it may be a view of the read chunk).
 */
export async function scanLines(
  file: string,
  onLine: (bytes: Buffer, offset: number) => void,
  opts: { start?: number; end?: number } = {},
): Promise<ScanResult> {
  const start = opts.start ?? 0;
  if (opts.end !== undefined && opts.end <= start) return { consumedTo: start, lines: 0 };
  const stream = fs.createReadStream(file, {
    start,
    end: opts.end === undefined ? undefined : opts.end - 1,
    highWaterMark: SCAN_CHUNK_BYTES,
  });
  let carry: Buffer | null = null; // bytes of a line that began in an earlier chunk
  let carryOffset = start;
  let pos = start; // file offset of the current chunk's first byte
  let consumedTo = start;
  let lines = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(NL, from);
      if (nl < 0) break;
      if (carry) {
        onLine(Buffer.concat([carry, chunk.subarray(0, nl)]), carryOffset);
        carry = null;
      } else {
        onLine(chunk.subarray(from, nl), pos + from);
      }
      lines++;
      from = nl + 1;
      consumedTo = pos + from;
    }
    if (from < chunk.length) {
      if (!carry) carryOffset = pos + from;
      carry = carry ? Buffer.concat([carry, chunk.subarray(from)]) : Buffer.from(chunk.subarray(from));
    }
    pos += chunk.length;
  }
  return { consumedTo, lines };
}
