/**
 * SQLite WAL checkpoints in a worker thread. A checkpoint copies the pages the WAL collected back into
 * the database file and fsyncs both files; with automatic checkpoints SQLite runs it inside whichever
 * COMMIT crosses the threshold, on the event loop: a 55-77 ms stall every ~500 jobs under load, a
 * third of the store's time. Here a second connection, on its own thread,
 * runs PASSIVE checkpoints (they never block the writer) every `intervalMs`, so the server's
 * COMMITs only append to the WAL. The server's own connection keeps automatic checkpoints at a high
 * threshold as a fallback, so the WAL stays bounded even if this thread fell behind or died.
 */
import { Worker } from 'node:worker_threads';

/** The worker's code, as a string: it runs the same in the compiled server, under tsx and in Jest. */
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlitePath);
const db = new Database(workerData.file, { timeout: 5000 });
db.pragma('synchronous = ' + workerData.synchronous);
let failing = false;
const tick = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    failing = false;
  } catch (err) {
    if (!failing) parentPort.postMessage({ error: String(err && err.message) });
    failing = true;
  }
};
const timer = setInterval(tick, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface Checkpointer {
  /** Stops the thread and closes its connection; call before closing the server's connection. */
  stop(): Promise<void>;
}

export function startCheckpointer(
  file: string,
  o: { intervalMs: number; synchronous: 'NORMAL' | 'FULL'; onError?: (message: string) => void },
): Checkpointer {
  const worker = new Worker(WORKER_CODE, {
    eval: true,
    workerData: {
      file,
      intervalMs: o.intervalMs,
      synchronous: o.synchronous,
      sqlitePath: require.resolve('better-sqlite3'),
    },
  });
  worker.unref(); // never what keeps the process alive
  // A failing checkpoint is reported once until one succeeds again; the fallback keeps the WAL bounded.
  worker.on('message', (m: { error?: string }) => {
    if (m.error !== undefined) o.onError?.(m.error);
  });
  worker.on('error', (err) => o.onError?.(err.message));
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    async stop() {
      // Unref'd while it works, but stopping it is waited for: with nothing else left to do the
      // process would otherwise exit under this await, and close() would never return.
      worker.ref();
      worker.postMessage('stop');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)));
      await Promise.race([exited, timeout]);
      clearTimeout(timer);
      await worker.terminate();
    },
  };
}
