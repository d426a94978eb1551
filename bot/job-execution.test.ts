import { silentLogger } from '../core/logger';
import type { Job } from '../core/types';
import { HandlerRegistry, JobFailure, type HandlerContext } from './handlers';
import { defineHandler } from './handlers/handler';
import { LeaseLostAbort, ShutdownAbort, disposalOf, executeJob } from './job-execution';
import { realSleep } from './sleep';
import { z } from 'zod';

const job = (type: string, payload: Job['payload'] = {}): Job => ({
  id: 'j1',
  type,
  payload,
  status: 'running',
  botId: 'b',
  attempts: 1,
  maxAttempts: 1,
  priority: 0,
  runAt: null,
  key: null,
  timeoutMs: 0,
  createdAt: '',
  claimedAt: null,
  startedAt: null,
  finishedAt: null,
  leaseExpiresAt: null,
  result: null,
  error: null,
  schedule: null,
  progress: null,
});
const ctx = (signal = new AbortController().signal): HandlerContext => ({
  signal,
  log: silentLogger(),
  random: () => 0.99,
  progress: () => undefined,
  sleep: realSleep,
  settings: { processingDurationMs: 0, failureRate: 0.15 },
});
const registry = new HandlerRegistry();

describe('executeJob', () => {
  it('completes with the handler result', async () => {
    expect(await executeJob(registry, job('primes', { n: 100 }), ctx())).toEqual({
      kind: 'completed',
      result: { n: 100, count: 25 },
    });
  });

  it('fails an unknown type, naming the types this bot runs', async () => {
    expect(await executeJob(registry, job('teleport'), ctx())).toEqual({
      kind: 'failed',
      error: 'unknown job type "teleport"; this bot runs: fib, hash, primes, simulated',
    });
  });

  it('fails a bad payload with the field and the reason', async () => {
    const o = await executeJob(registry, job('hash', { input: 42 }), ctx());
    expect(o.kind).toBe('failed');
    expect((o as { error: string }).error).toMatch(/^invalid payload for job type "hash": input: .*string/);
  });

  it('fails with the message of whatever the handler throws', async () => {
    const boom = defineHandler({
      type: 'boom',
      description: '',
      payload: z.any(),
      work: async () => {
        throw new JobFailure('disk on fire');
      },
    });
    expect(await executeJob(new HandlerRegistry([boom]), job('boom'), ctx())).toEqual({
      kind: 'failed',
      error: 'disk on fire',
    });
  });

  it('reports an abort with its reason, even from a handler that ignores the signal', async () => {
    const stubborn = defineHandler({
      type: 'stubborn',
      description: '',
      payload: z.any(),
      work: () => new Promise(() => undefined),
    });
    for (const reason of [new ShutdownAbort(), new LeaseLostAbort('moved on')]) {
      const ac = new AbortController();
      const p = executeJob(new HandlerRegistry([stubborn]), job('stubborn'), ctx(ac.signal));
      ac.abort(reason);
      expect(await p).toEqual({ kind: 'aborted', reason });
    }
  });
});

describe('disposalOf', () => {
  it('reports results and failures fenced by the attempt; hands back a job stopped by shutdown; drops a lost lease', () => {
    const j = { ...job('x'), id: 'j9', attempts: 3 };
    expect(disposalOf(j, { kind: 'completed', result: { a: 1 } })).toEqual({
      kind: 'report',
      report: { complete: { jobId: 'j9', attempt: 3, result: { a: 1 } } },
    });
    expect(disposalOf(j, { kind: 'failed', error: 'boom' })).toEqual({
      kind: 'report',
      report: { fail: { jobId: 'j9', attempt: 3, error: 'boom' } },
    });
    expect(disposalOf(j, { kind: 'aborted', reason: new ShutdownAbort() })).toEqual({ kind: 'hand back' });
    expect(disposalOf(j, { kind: 'aborted', reason: new LeaseLostAbort('gone') })).toEqual({ kind: 'drop' });
  });
});
