import { testTime } from '../test/helpers/time';
import { PeriodicTask } from './periodic-task';

/** Waits until check() holds (the limit scaled for slow machines: test/helpers/time.js). */
async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + testTime(timeoutMs);
  while (!check()) {
    if (Date.now() > end) throw new Error(`condition not met within ${testTime(timeoutMs)} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('runs on its own timer, never two at once, and stops', async () => {
  let running = 0;
  let maxRunning = 0;
  let runs = 0;
  let finished = 0;
  const task = new PeriodicTask(10, async () => {
    running++;
    runs++;
    maxRunning = Math.max(maxRunning, running);
    await new Promise((r) => setTimeout(r, 30)); // slower than the interval
    running--;
    finished++;
  }, () => undefined);
  task.start();
  await until(() => runs >= 3);
  task.stop();
  const after = runs;
  await until(() => running === 0);
  // Well past several intervals: a stopped task must not start again.
  await new Promise((r) => setTimeout(r, 100));
  expect(maxRunning).toBe(1);
  expect(after).toBeGreaterThanOrEqual(3);
  expect(runs).toBe(after); // the one in flight when stopped finished; none started after
  expect(finished).toBe(runs);
});

test('a failing run is reported and the timer goes on', async () => {
  const errors: unknown[] = [];
  let runs = 0;
  const task = new PeriodicTask(10, async () => {
    runs++;
    throw new Error('boom');
  }, (e) => errors.push(e));
  task.start();
  await until(() => errors.length >= 2);
  task.stop();
  await new Promise((r) => setTimeout(r, 50));
  expect(runs).toBeGreaterThanOrEqual(2);
  expect(errors).toHaveLength(runs);
});
