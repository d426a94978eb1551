/**
 * Desired state in a small JSON file (process driver): survives a controller restart, and a person
 * may edit it by hand; the loop re-reads it on every resync. Written atomically (temporary file,
 * fsync, rename) so a crash never leaves half a file.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { zodDetails } from '../../core/errors';
import {
  desiredStateSchema,
  InvalidStoredStateError,
  type DesiredState,
  type DesiredStateStore,
} from '../desired-state';

export class JsonFileStateStore implements DesiredStateStore {
  readonly location: string;

  constructor(
    private readonly file: string,
    /** Largest count accepted from the file (HARD_MAX_BOTS; the loop caps at MAX_BOTS). */
    private readonly limit: number,
    /** Fills fields missing from a hand-written file. */
    private readonly defaults: DesiredState,
  ) {
    this.location = `file ${file}`;
  }

  async load(): Promise<DesiredState | null> {
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new InvalidStoredStateError(this.location, [`not JSON: ${(err as Error).message}`]);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw new InvalidStoredStateError(this.location, ['not a JSON object']);
    const obj = raw as Record<string, unknown>;
    const auto =
      typeof obj.autoscale === 'object' && obj.autoscale !== null ? (obj.autoscale as Record<string, unknown>) : {};
    const merged = {
      replicas: obj.replicas ?? this.defaults.replicas,
      autoscale: { ...this.defaults.autoscale, ...auto },
    };
    const r = desiredStateSchema(this.limit).safeParse(merged);
    if (!r.success)
      throw new InvalidStoredStateError(
        this.location,
        zodDetails(r.error.issues).map((d) => `${d.path}: ${d.message}`),
      );
    return r.data;
  }

  async save(state: DesiredState): Promise<void> {
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fh = await fs.open(tmp, 'w');
    try {
      await fh.writeFile(`${JSON.stringify(state, null, 2)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, this.file);
  }
}
