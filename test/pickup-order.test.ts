/**
 * A job enqueued while a bot long-polls: the woken claim answers before the enqueue does, so the
 * bot's pickup does not wait for the enqueue's answer to be written. Seen from a client on two
 * keep-alive connections, as the latency goal of `npm run bench` measures.
 */
import http from 'node:http';
import { ADMIN_TOKEN, BOT_TOKEN, waitFor } from './helpers/server-process';
import { startInProcess } from './helpers/server-in-process';
import { testTime } from './helpers/time';

let s: Awaited<ReturnType<typeof startInProcess>>;
const agents = [new http.Agent({ keepAlive: true, maxSockets: 1 }), new http.Agent({ keepAlive: true, maxSockets: 1 })];

beforeAll(async () => {
  s = await startInProcess();
});
afterAll(async () => {
  agents.forEach((a) => a.destroy());
  await s.close();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function post(agent: http.Agent, p: string, body: unknown): Promise<{ status: number; json: any; at: bigint }> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    // Enqueueing and cancelling are the admin's; the rest is the bots'.
    const admin = p === '/jobs' || p.endsWith('/cancel');
    const headers = {
      authorization: `Bearer ${admin ? ADMIN_TOKEN : BOT_TOKEN}`,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(data),
    };
    const req = http.request(`${s.url}${p}`, { method: 'POST', agent, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          json: JSON.parse(Buffer.concat(parts).toString() || 'null'),
          at: process.hrtime.bigint(),
        }),
      );
    });
    req.on('error', reject);
    req.end(data);
  });
}

test('with a bot waiting, POST /jobs answers after the woken claim has answered (single and batch forms)', async () => {
  const [poller, enqueuer] = agents;
  expect((await post(poller, '/bots/register', { id: 'order' })).status).toBe(201);
  let held: { jobId: string; attempt: number } | null = null;
  let claimFirst = 0;
  const rounds = 20;
  for (let i = 0; i < rounds; i++) {
    const claim = post(poller, '/jobs/next', {
      botId: 'order',
      waitMs: 20000,
      ...(held ? { complete: { ...held, result: null } } : {}),
    });
    await new Promise((r) => setTimeout(r, testTime(10))); // the claim finds nothing and waits
    const body = i % 2 === 0 ? { type: 'simulated' } : { jobs: [{ type: 'simulated' }] };
    const created = await post(enqueuer, '/jobs', body);
    const got = await claim;
    expect(created.status).toBe(201);
    const createdId = i % 2 === 0 ? created.json.id : created.json.items[0].id;
    expect(got.json.job.id).toBe(createdId); // the job just created, picked up by the waiting bot
    held = { jobId: got.json.job.id, attempt: got.json.job.attempts };
    if (got.at < created.at) claimFirst++;
  }
  // Not every time: a claim still on its way into the wait misses the turn; but nearly always.
  expect(claimFirst).toBeGreaterThanOrEqual(rounds * 0.7);
});

test('with no bot waiting, POST /jobs answers without waiting for anything, the job pending', async () => {
  const created = await post(agents[1], '/jobs', { type: 'simulated' });
  expect(created.status).toBe(201);
  expect(created.json.status).toBe('pending');
  expect((await post(agents[1], `/jobs/${created.json.id}/cancel`, {})).status).toBe(200); // out of the next test's way
});

test('three bots waiting, two new jobs: two bots get one each at once, the third keeps waiting for the next', async () => {
  const own = [0, 1, 2].map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  try {
    for (const i of [0, 1, 2]) expect((await post(own[i], '/bots/register', { id: `herd-${i}` })).status).toBe(201);
    const answers: (string | null)[] = [null, null, null];
    const claims = [0, 1, 2].map((i) =>
      post(own[i], '/jobs/next', { botId: `herd-${i}`, waitMs: 20000 }).then(
        (r) => (answers[i] = r.json.job?.id ?? 'none'),
      ),
    );
    await new Promise((r) => setTimeout(r, testTime(20)));
    const made = (
      await post(agents[1], '/jobs', { jobs: [{ type: 'simulated' }, { type: 'simulated' }] })
    ).json.items.map((j: { id: string }) => j.id);
    await waitFor(() => answers.filter((a) => a !== null).length >= 2, 5000, 5);
    expect(answers.filter((a) => a !== null).sort()).toEqual([...made].sort());
    const third = (await post(agents[1], '/jobs', { type: 'simulated' })).json.id;
    await Promise.all(claims);
    expect([...answers].sort()).toEqual([...made, third].sort());
  } finally {
    own.forEach((a) => a.destroy());
  }
});
