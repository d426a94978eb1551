/** The bare HTTP ping-pong of goal 1's context row runs end to end: real processes, every request answered. */
import { bareHttpPingPong } from './bare-http';

test('bare node:http ping-pong: 2 client processes x 150 requests, all answered, rate and CPU measured', async () => {
  const r = await bareHttpPingPong(2, 150);
  expect(r.answered).toBe(300);
  expect(r.requestsPerSecond).toBeGreaterThan(0);
  expect(Number.isFinite(r.serverCpuUs) && r.serverCpuUs >= 0).toBe(true);
  expect(Number.isFinite(r.clientCpuUs) && r.clientCpuUs >= 0).toBe(true);
});
