import { Writable } from 'node:stream';
import pino from 'pino';
import { ManualClock } from '../core/clock';
import { ServerLink } from './server-link';

test('logs one line when the server goes away and one when it is back, however many calls fail', () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)));
      cb();
    },
  });
  const clock = new ManualClock();
  const link = new ServerLink(pino({ level: 'info' }, sink), clock);
  link.markUp(); // up while up: nothing
  expect(link.backSignal).toBeUndefined();
  for (let i = 0; i < 5; i++) link.markDown(new Error('ECONNREFUSED'));
  expect(link.isDown).toBe(true);
  const back = link.backSignal!;
  expect(back.aborted).toBe(false);
  clock.advance(4200);
  link.markUp();
  expect(back.aborted).toBe(true); // wakes whoever sleeps in a backoff
  link.markUp();
  link.markDown(new Error('again'));
  expect(lines.map((l) => [l.event, l.downForMs])).toEqual([
    ['server unreachable', undefined],
    ['server back', 4200],
    ['server unreachable', undefined],
  ]);
});
