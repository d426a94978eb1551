/**
 * 1,200 simulated jobs through a real server by four in-process runners that share one seeded
 * random generator. Each simulated job draws exactly one number, so the failures the server
 * records must equal the draws below FAILURE_RATE, whichever runner took which job; and that
 * count must lie within 3 standard deviations of N·FAILURE_RATE.
 */
import { silentLogger } from '../core/logger';
import { ApiClient } from '../bot/api-client';
import { HandlerRegistry } from '../bot/handlers';
import { BotRunner } from '../bot/runner';
import { serverApi } from '../bot/testing/bot-process';
import { BOT_TOKEN, startServer, waitFor, type ServerProcess } from './helpers/server-process';

const N = 1200;
const FAILURE_RATE = 0.15;

/** mulberry32: a small, well-mixed 32-bit generator; uniform in [0, 1). */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let sp: ServerProcess;
beforeAll(async () => {
  sp = await startServer({ env: { MAX_ATTEMPTS: '1', BOT_DOWN_AFTER_MS: '30000' } });
});
afterAll(async () => {
  await sp?.kill();
});

test(`over ${N} simulated jobs the failure share is exact for the seed and within 3 sigma of FAILURE_RATE`, async () => {
  const api = serverApi(sp.url);
  await api.createJobs(Array.from({ length: N }, () => ({ type: 'simulated', payload: {} })));

  const generator = seeded(20261129);
  const draws: number[] = [];
  const random = () => {
    const x = generator();
    draws.push(x);
    return x;
  };
  const runners = ['rate-1', 'rate-2', 'rate-3', 'rate-4'].map(
    (botId) =>
      new BotRunner({
        config: {
          botId,
          botName: botId,
          serverUrl: sp.url,
          heartbeatIntervalMs: 1000,
          processingDurationMs: 0,
          failureRate: FAILURE_RATE,
          claimWaitMs: 1000,
          claimPollIntervalMs: 50,
          shutdownGraceMs: 1000,
          backoffMinMs: 20,
          backoffMaxMs: 500,
        },
        api: new ApiClient({ baseUrl: sp.url, requestTimeoutMs: 5000, token: BOT_TOKEN }),
        handlers: new HandlerRegistry(),
        log: silentLogger(),
        random,
      }),
  );
  const running = runners.map((r) => r.run());
  let summary = await api.summary();
  await waitFor(
    async () => {
      summary = await api.summary();
      return summary.jobs.completed + summary.jobs.failed === N;
    },
    60000,
    200,
  );
  runners.forEach((r) => r.stop('test'));
  await Promise.all(running);

  const expectedFailures = draws.filter((x) => x < FAILURE_RATE).length;
  expect(draws).toHaveLength(N);
  expect(summary.jobs.failed).toBe(expectedFailures);
  expect(summary.jobs.completed).toBe(N - expectedFailures);
  expect(runners.reduce((n, r) => n + r.counts.completed + r.counts.failed, 0)).toBe(N);
  expect(runners.every((r) => r.counts.leaseLost === 0)).toBe(true);
  // Every runner took part: the claim is shared fairly, not drained by one bot.
  expect(runners.every((r) => r.counts.completed + r.counts.failed > 0)).toBe(true);

  const sigma = Math.sqrt(N * FAILURE_RATE * (1 - FAILURE_RATE));
  expect(Math.abs(summary.jobs.failed - N * FAILURE_RATE)).toBeLessThanOrEqual(3 * sigma);
});
