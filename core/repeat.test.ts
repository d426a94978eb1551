import { repeat } from './repeat';

test('runs at once and on every beat, never two at once, reports errors, and stop waits for the run in progress', async () => {
  let active = 0;
  let most = 0;
  let runs = 0;
  const errors: unknown[] = [];
  let release!: () => void;
  const r = repeat(
    5,
    async () => {
      runs++;
      active++;
      most = Math.max(most, active);
      try {
        if (runs === 2) throw new Error('boom');
        if (runs === 3) await new Promise<void>((resolve) => (release = resolve));
      } finally {
        active--;
      }
    },
    (err) => errors.push(err),
  );
  expect(runs).toBe(1); // at once
  while (runs < 3) await new Promise((x) => setTimeout(x, 5));
  await new Promise((x) => setTimeout(x, 30)); // beats while run 3 hangs are skipped
  expect(runs).toBe(3);
  let stopped = false;
  const stopping = r.stop().then(() => (stopped = true));
  await new Promise((x) => setTimeout(x, 10));
  expect(stopped).toBe(false);
  release();
  await stopping;
  expect(most).toBe(1);
  expect(errors).toHaveLength(1);
  await new Promise((x) => setTimeout(x, 20));
  expect(runs).toBe(3); // no beat after stop
});
