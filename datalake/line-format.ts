/**
 * One datalake line: a ResultLine as JSON with the keys in the order docs/datalake.md shows, ending in "\n".
 * JSON.stringify escapes control characters, so a line never contains a raw newline.
 *
 * The readers here parse the few fields they need without JSON.parse when the line has the shape
 * this module writes: repair and stats touch every line of a day, and a full parse of a 1 GB day
 * costs seconds. Anything unexpected falls back to JSON.parse, so a hand-edited line still counts.
 */
import type { ResultLine } from '../core/types';

/** Serializes one result; keys in contract order whatever order the store built the object in. */
export function formatLine(r: ResultLine): string {
  const ordered: ResultLine = {
    resultId: r.resultId,
    jobId: r.jobId,
    attempt: r.attempt,
    botId: r.botId,
    type: r.type,
    status: r.status,
    result: r.result === undefined ? null : r.result,
    error: r.error === undefined ? null : r.error,
    createdAt: r.createdAt,
    claimedAt: r.claimedAt === undefined ? null : r.claimedAt,
    startedAt: r.startedAt === undefined ? null : r.startedAt,
    finishedAt: r.finishedAt,
    durationMs: r.durationMs === undefined ? null : r.durationMs,
  };
  return `${JSON.stringify(ordered)}\n`;
}

const ID_PREFIX = '{"resultId":"';

function parseObject(line: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(line);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The resultId of a line (without its "\n"), or null when the line is not a result. */
export function resultIdOf(line: string): string | null {
  if (line.startsWith(ID_PREFIX)) {
    const end = line.indexOf('"', ID_PREFIX.length);
    const id = end > 0 ? line.slice(ID_PREFIX.length, end) : '';
    // A backslash means an escape inside the id: let JSON.parse decode it.
    if (id.length > 0 && !id.includes('\\') && line.endsWith('}')) return id;
  }
  const o = parseObject(line);
  return o && typeof o.resultId === 'string' ? o.resultId : null;
}

const ID_PREFIX_BYTES = Buffer.from(ID_PREFIX);

/** resultIdOf() on raw bytes: decodes only the id when the line has the writer's shape. */
export function resultIdOfBytes(line: Buffer): string | null {
  if (
    line.length > ID_PREFIX_BYTES.length + 1 &&
    line[line.length - 1] === 0x7d &&
    line.subarray(0, ID_PREFIX_BYTES.length).equals(ID_PREFIX_BYTES)
  ) {
    const end = line.indexOf(0x22, ID_PREFIX_BYTES.length);
    if (end > ID_PREFIX_BYTES.length) {
      const idBytes = line.subarray(ID_PREFIX_BYTES.length, end);
      if (!idBytes.includes(0x5c)) return idBytes.toString('utf8');
    }
  }
  return resultIdOf(line.toString('utf8'));
}

export interface LineSummary {
  status: 'completed' | 'failed';
  durationMs: number | null;
}

const STATUS_COMPLETED = ',"status":"completed",';
const STATUS_FAILED = ',"status":"failed",';
const DURATION_KEY = ',"durationMs":';

/** Status and duration of a line, for stats; null for a line that is not a result. */
export function summarizeLine(line: string): LineSummary | null {
  // Fast path: status precedes result/error in key order and the fields before it (ids, type) cannot
  // contain quotes, so its first occurrence is the real one; durationMs is the last key.
  if (line.startsWith(ID_PREFIX) && line.endsWith('}')) {
    const c = line.indexOf(STATUS_COMPLETED);
    const f = line.indexOf(STATUS_FAILED);
    const d = line.lastIndexOf(DURATION_KEY);
    if ((c > 0 || f > 0) && d > 0) {
      const status = c > 0 && (f < 0 || c < f) ? 'completed' : 'failed';
      const raw = line.slice(d + DURATION_KEY.length, -1);
      if (raw === 'null') return { status, durationMs: null };
      const n = Number(raw);
      if (raw.length > 0 && Number.isFinite(n)) return { status, durationMs: n };
    }
  }
  const o = parseObject(line);
  if (!o || typeof o.resultId !== 'string' || (o.status !== 'completed' && o.status !== 'failed')) return null;
  return {
    status: o.status,
    durationMs: typeof o.durationMs === 'number' && Number.isFinite(o.durationMs) ? o.durationMs : null,
  };
}
