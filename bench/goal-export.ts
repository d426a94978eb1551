/**
 * The export goal: export of a 1 GB datalake day over HTTP. The day file is written directly (valid lines with
 * distinct resultIds, so the server's start-up repair accepts it), for a past day, with two newer
 * small days so that the repair only tail-checks the big one, as it would a closed old partition.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { tempDir } from '../test/helpers/server-process';
import type { BenchOptions } from './config';
import { ADMIN } from './http';
import { memoryOf, sampleRss, startBenchServer } from './processes';
import type { Figure } from './table';

const BIG_DAY = '2001-01-01';

function line(i: number, day: string): string {
  const id = `exp${String(i).padStart(10, '0')}`;
  const t = `${day}T12:00:00.000Z`;
  return `{"resultId":"${id}:1","jobId":"${id}","attempt":1,"botId":"bench-bot-${i % 8}","type":"simulated","status":"completed","result":{"ok":true,"n":${i}},"error":null,"createdAt":"${t}","claimedAt":"${t}","startedAt":"${t}","finishedAt":"${t}","durationMs":3}\n`;
}

/** Writes a day partition of about `bytes` bytes in 8 MB chunks. */
function writeDay(dir: string, day: string, bytes: number): number {
  fs.mkdirSync(dir, { recursive: true });
  const fd = fs.openSync(path.join(dir, `results-${day}.ndjson`), 'w');
  let written = 0;
  let i = 0;
  try {
    while (written < bytes) {
      const parts: string[] = [];
      let size = 0;
      while (size < 8 << 20 && written + size < bytes) {
        const l = line(i++, day);
        parts.push(l);
        size += l.length;
      }
      const buf = Buffer.from(parts.join(''));
      fs.writeSync(fd, buf);
      written += buf.length;
    }
  } finally {
    fs.closeSync(fd);
  }
  return written;
}

/** GET that counts the bytes without keeping them. */
function download(url: string): Promise<{ bytes: number; ms: number; status: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: ADMIN }, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve({ bytes, ms: performance.now() - t0, status: res.statusCode ?? 0 }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

export async function goalExport(o: BenchOptions, out: Figure[]): Promise<void> {
  const dir = tempDir('botfleet-bench-export-');
  const lake = path.join(dir, 'datalake');
  const t0 = performance.now();
  const size = writeDay(lake, BIG_DAY, o.sizes.exportBytes);
  writeDay(lake, '2001-01-02', 1000);
  writeDay(lake, '2001-01-03', 1000);
  const buildSeconds = (performance.now() - t0) / 1000;
  const server = await startBenchServer({ dir });
  try {
    const pid = server.proc.pid!;
    const before = memoryOf(pid).rssMb;
    const sampler = sampleRss(pid, 10);
    const r = await download(`${server.url}/datalake/export/${BIG_DAY}`);
    const peak = sampler.stop();
    if (r.status !== 200 || r.bytes !== size)
      throw new Error(`export answered ${r.status} with ${r.bytes} of ${size} bytes`);
    const mb = size / (1 << 20);
    out.push({
      goal: 'export',
      what: `export a ${mb.toFixed(0)} MB day over HTTP`,
      value: mb / (r.ms / 1000),
      unit: 'MB/s',
      target: 200,
      sense: 'min',
      note: `${(r.ms / 1000).toFixed(1)} s; day file written in ${buildSeconds.toFixed(1)} s`,
    });
    out.push({
      goal: 'export',
      what: 'server RSS growth during the export',
      value: peak - before,
      unit: 'MB',
      target: 50,
      sense: 'max',
      note: `VmRSS sampled every 10 ms, ${before.toFixed(0)} -> ${peak.toFixed(0)} MB`,
    });
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
