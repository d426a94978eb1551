/**
 * Closing a SQLite store finishes even when nothing else keeps the process alive: the checkpoint
 * thread is unref'd while it runs, but stopping it is waited for, so `store.close()` (and the
 * server's `close()`) returns rather than the process running out of work and exiting first.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { tempDir } from '../../../test/helpers/server-process';
import { testTime } from '../../../test/helpers/time';

const ROOT = path.resolve(__dirname, '..', '..', '..');

function openAndClose(file: string): Promise<string> {
  const code = `
    const { openStore } = require('./server/store/open');
    (async () => {
      const store = await openStore(${JSON.stringify(`sqlite://${file}`)}, { defaultMaxAttempts: 1, defaultTimeoutMs: 0, botDownAfterMs: 120000 });
      await store.migrate();
      await store.close();
      process.stdout.write('closed');
    })();`;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '-e', code],
      { cwd: ROOT, timeout: testTime(30_000) },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
}

test(
  'store.close() returns in a process with nothing else to do (5 times in a row)',
  async () => {
    const dir = tempDir('botfleet-checkpointer-');
    for (let i = 0; i < 5; i++) expect(await openAndClose(path.join(dir, `jobs-${i}.db`))).toBe('closed');
  },
  testTime(5 * 30_000),
);
