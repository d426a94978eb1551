import { waitFor } from '../test/helpers/server-process';
import { PeriodicTask } from './periodic-task';

test('runs on its own timer, never two at once, and stops', async () => {
  let running = 0;
  let maxRunning = 0;
  let runs = 0;
  let finished = 0;
  const task = new PeriodicTask(
    10,
    async () => {
      running++;
      runs++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, 30)); // slower than the interval
      running--;
      finished++;
    },
    () => undefined,
  );
  task.start();
  await waitFor(() => runs >= 3, 5000, 5);
  task.stop();
  const after = runs;
  await waitFor(() => running === 0, 5000, 5);
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
  const task = new PeriodicTask(
    10,
    async () => {
      runs++;
      throw new Error('boom');
    },
    (e) => errors.push(e),
  );
  task.start();
  await waitFor(() => errors.length >= 2, 5000, 5);
  task.stop();
  await new Promise((r) => setTimeout(r, 50));
  expect(runs).toBeGreaterThanOrEqual(2);
  expect(errors).toHaveLength(runs);
});
