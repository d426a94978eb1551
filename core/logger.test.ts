/**
 * The loggers' stdout: lines of one event-loop turn go out in one write, in order, and none is lost
 * when the process exits, throws, or is killed after the turn that logged it.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { TurnBatch, type LineSink } from './logger';
import { testTime } from '../test/helpers/time';

const turn = () => new Promise((r) => setImmediate(r));

function recorder(): LineSink & { writes: string[]; flushes: number } {
  const rec = {
    writes: [] as string[],
    flushes: 0,
    write(chunk: string) {
      rec.writes.push(chunk);
      return true;
    },
    flush(cb?: (err?: Error) => void) {
      rec.flushes++;
      cb?.();
    },
  };
  return rec;
}

test('the lines of one turn are one write, in order; the next turn is another', async () => {
  const sink = recorder();
  const batch = new TurnBatch(sink);
  batch.write('a\n');
  batch.write('b\n');
  batch.write('c\n');
  expect(sink.writes).toEqual([]); // not before the turn ends
  await turn();
  expect(sink.writes).toEqual(['a\nb\nc\n']);
  batch.write('d\n');
  await turn();
  await turn();
  expect(sink.writes).toEqual(['a\nb\nc\n', 'd\n']);
});

test("flush() writes what is pending at once, then the sink's flush calls back", async () => {
  const sink = recorder();
  const batch = new TurnBatch(sink);
  batch.write('x\n');
  const done = jest.fn();
  batch.flush(done);
  expect(sink.writes).toEqual(['x\n']);
  expect(done).toHaveBeenCalledTimes(1);
  expect(sink.flushes).toBe(1);
  await turn();
  expect(sink.writes).toEqual(['x\n']); // the scheduled write finds nothing left
});

/** Runs a script in a child with createLogger('t') as `log`; its stdout and how it ended. */
function child(body: string): Promise<{ out: string; code: number | null; signal: string | null }> {
  const script = `const { createLogger } = require(${JSON.stringify(path.join(__dirname, 'logger.ts'))});
    const log = createLogger('t', 'info', { pretty: false });
    ${body}`;
  const proc = spawn(process.execPath, ['--import', 'tsx', '--eval', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.resume();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`child did not end: ${out}`));
    }, testTime(10_000));
    proc.on('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ out, code, signal });
    });
  });
}

const messages = (out: string) =>
  out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l).msg);

test.each([
  ['process.exit() in the same turn', `log.info('one'); log.info('two'); process.exit(3);`, { code: 3 }],
  ['an uncaught throw in the same turn', `log.info('one'); log.info('two'); throw new Error('boom');`, { code: 1 }],
  [
    'kill -9 in a later turn',
    `log.info('one'); log.info('two'); setTimeout(() => process.kill(process.pid, 'SIGKILL'), 50);`,
    { signal: 'SIGKILL' },
  ],
  ['the end of the program', `log.info('one'); log.info('two');`, { code: 0 }],
])('no line is lost at %s', async (_what, body, ending) => {
  const r = await child(body);
  expect(r).toMatchObject(ending);
  expect(messages(r.out)).toEqual(['one', 'two']);
});

test('a line is JSON with the name, the level and an ISO time', async () => {
  const r = await child(`log.warn({ event: 'x', n: 1 }, 'hello');`);
  const line = JSON.parse(r.out.trim());
  expect(line).toMatchObject({ name: 't', level: 40, event: 'x', n: 1, msg: 'hello' });
  expect(new Date(line.time).toISOString()).toBe(line.time);
});
