import { PeriodicTask } from './periodic-task';

test('runs on its own timer, never two at once, and stops', async () => {
  let running = 0;
  let maxRunning = 0;
  let runs = 0;
  const task = new PeriodicTask(10, async () => {
    running++;
    runs++;
    maxRunning = Math.max(maxRunning, running);
    await new Promise((r) => setTimeout(r, 30)); // slower than the interval
    running--;
  }, () => undefined);
  task.start();
  await new Promise((r) => setTimeout(r, 250));
  task.stop();
  const after = runs;
  await new Promise((r) => setTimeout(r, 100));
  expect(maxRunning).toBe(1);
  expect(after).toBeGreaterThanOrEqual(3);
  expect(runs - after).toBeLessThanOrEqual(1); // at most the one in flight when stopped
});

test('a failing run is reported and the timer goes on', async () => {
  const errors: unknown[] = [];
  let runs = 0;
  const task = new PeriodicTask(10, async () => {
    runs++;
    throw new Error('boom');
  }, (e) => errors.push(e));
  task.start();
  await new Promise((r) => setTimeout(r, 100));
  task.stop();
  expect(runs).toBeGreaterThanOrEqual(2);
  expect(errors).toHaveLength(runs);
});
