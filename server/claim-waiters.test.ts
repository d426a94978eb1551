import { ClaimWaiters } from './claim-waiters';

/** Starts n waits and records the order in which they end. */
function waitAll(
  w: ClaimWaiters,
  n: number,
  ms = 60_000,
): { ended: number[]; all: Promise<void[]>; aborts: AbortController[] } {
  const ended: number[] = [];
  const aborts = Array.from({ length: n }, () => new AbortController());
  const all = Promise.all(aborts.map((a, i) => w.wait(ms, a.signal).then(() => void ended.push(i))));
  return { ended, all, aborts };
}
const turn = () => new Promise((r) => setImmediate(r));

test('notify(count) wakes the claims that waited longest, one per new job; the rest keep waiting', async () => {
  const w = new ClaimWaiters();
  const { ended, all } = waitAll(w, 5);
  expect(w.size).toBe(5);
  w.notify(1);
  await turn();
  expect(ended).toEqual([0]);
  expect(w.size).toBe(4);
  w.notify(2);
  await turn();
  expect(ended).toEqual([0, 1, 2]);
  w.notify(0);
  await turn();
  expect(ended).toEqual([0, 1, 2]);
  w.notify(); // everyone (a resume, a job released back to pending)
  await all;
  expect(ended).toEqual([0, 1, 2, 3, 4]);
  expect(w.size).toBe(0);
});

test('an aborted wait leaves the queue at once and is not counted by a later notify(1)', async () => {
  const w = new ClaimWaiters();
  const { ended, aborts } = waitAll(w, 3);
  aborts[0].abort();
  await turn();
  expect(ended).toEqual([0]);
  expect(w.size).toBe(2);
  w.notify(1);
  await turn();
  expect(ended).toEqual([0, 1]);
  w.close();
  await turn();
  expect(ended).toEqual([0, 1, 2]);
  await w.wait(60_000); // closed: returns at once
});

test('a wait ends by itself after its time', async () => {
  const w = new ClaimWaiters();
  const t0 = Date.now();
  await w.wait(30);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
  expect(w.size).toBe(0);
});

test('a wait given the generation from before a claim ends at once if notify() came after it', async () => {
  const w = new ClaimWaiters();
  const before = w.generation;
  w.notify(1); // nobody was waiting yet: the claim was still looking
  const t0 = Date.now();
  await w.wait(60_000, undefined, before);
  expect(Date.now() - t0).toBeLessThan(1000); // the wait's own length is a minute
  const now = w.generation;
  const waiting = w.wait(60_000, undefined, now);
  expect(w.size).toBe(1); // nothing came since: it waits
  w.notify(1);
  await waiting;
  expect(w.generation).toBe(now + 1);
});
