/** Every handler against known answers from outside this code (openssl, number theory tables). */
import fc from 'fast-check';
import { silentLogger } from '../../core/logger';
import { realSleep } from '../sleep';
import { HANDLERS, HandlerRegistry, InvalidPayloadError, JobFailure, type HandlerContext } from '.';
import { countPrimesBelow } from './primes';

function ctx(over: Partial<HandlerContext> = {}): HandlerContext {
  return {
    signal: new AbortController().signal,
    log: silentLogger(),
    random: () => 0.5,
    progress: () => undefined,
    sleep: realSleep,
    settings: { processingDurationMs: 0, failureRate: 0 },
    ...over,
  };
}
const registry = new HandlerRegistry();
const run = (type: string, payload: unknown, c = ctx()) => registry.get(type)!.run(payload, c);

describe('hash (iterated SHA-256)', () => {
  it('matches the FIPS 180-2 vectors for one round', async () => {
    expect(await run('hash', { input: 'abc', iterations: 1 })).toEqual({
      algorithm: 'sha256',
      iterations: 1,
      hex: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    });
    expect(await run('hash', { input: '' })).toMatchObject({
      hex: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    });
  });

  it('hashes the raw digest in later rounds (openssl dgst -binary piped twice and three times)', async () => {
    expect(await run('hash', { input: 'abc', iterations: 2 })).toMatchObject({
      hex: '4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358',
    });
    expect(await run('hash', { input: 'abc', iterations: 3 })).toMatchObject({
      hex: 'f2a778f1a6ed3d5bc59a5d79104c598f3f07093f240ca4e91333fb09ed4f36da',
    });
  });

  it('runs 100,000 rounds across event-loop yields (value from Python hashlib)', async () => {
    expect(await run('hash', { input: 'botfleet', iterations: 100000 })).toMatchObject({
      hex: '96429b7c5233ca41a2f05d1add693cb78ce4f8f5cf9dcc546c2d7c4162f3904f',
    });
  });

  it('rejects bad payloads with the field named', async () => {
    await expect(run('hash', { input: 'x', iterations: 0 })).rejects.toThrow(
      /invalid payload for job type "hash": iterations/,
    );
    await expect(run('hash', { iterations: 5 })).rejects.toThrow(InvalidPayloadError);
    await expect(run('hash', { input: 'x', iterations: 1_000_001 })).rejects.toThrow(/iterations/);
    await expect(run('hash', { input: 'x', extra: 1 })).rejects.toThrow(/extra/);
  });

  it('stops when aborted', async () => {
    const ac = new AbortController();
    const p = run('hash', { input: 'x', iterations: 1_000_000 }, ctx({ signal: ac.signal }));
    ac.abort(new Error('stop now'));
    await expect(p).rejects.toThrow('stop now');
  });
});

describe('primes (count below n)', () => {
  // Known values of the prime-counting function pi(x); pi(n-1) counts primes below n.
  it.each([
    [2, 0],
    [3, 1],
    [4, 2],
    [5, 2],
    [6, 3],
    [8, 4],
    [10, 4],
    [11, 4],
    [12, 5],
    [100, 25],
    [101, 25],
    [102, 26],
    [1000, 168],
    [1_000_000, 78498],
    [10_000_000, 664_579],
  ])('pi(n-1) for n = %i is %i', async (n, count) => {
    expect(await run('primes', { n })).toEqual({ n, count });
  });

  it('agrees with trial division for n up to 3000', async () => {
    const isPrime = (k: number) => {
      if (k < 2) return false;
      for (let d = 2; d * d <= k; d++) if (k % d === 0) return false;
      return true;
    };
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 3000 }), async (n) => {
        let expected = 0;
        for (let k = 2; k < n; k++) if (isPrime(k)) expected++;
        expect(await countPrimesBelow(n, new AbortController().signal)).toBe(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('agrees with a plain sieve around the first segment edges (3 + 2·2^17 and beyond)', async () => {
    for (const n of [262_145, 262_146, 262_147, 262_148, 262_149, 524_291, 524_292]) {
      expect(await countPrimesBelow(n, new AbortController().signal)).toBe(countNaive(n));
    }
  });

  it('counts the 5,761,455 primes below 1e8, the largest n allowed', async () => {
    expect(await run('primes', { n: 100_000_000 })).toEqual({ n: 100_000_000, count: 5_761_455 });
  });

  it('rejects n outside 2..1e8 and non-integers', async () => {
    await expect(run('primes', { n: 1 })).rejects.toThrow(/invalid payload for job type "primes": n/);
    await expect(run('primes', { n: 100_000_001 })).rejects.toThrow(/n/);
    await expect(run('primes', { n: 10.5 })).rejects.toThrow(InvalidPayloadError);
    await expect(run('primes', null)).rejects.toThrow(InvalidPayloadError);
  });
});

function countNaive(n: number): number {
  const composite = new Uint8Array(n);
  let c = 0;
  for (let i = 2; i < n; i++) {
    if (composite[i]) continue;
    c++;
    for (let j = i * i; j < n; j += i) composite[j] = 1;
  }
  return c;
}

describe('fib (exact Fibonacci numbers)', () => {
  it.each([
    [0, '0'],
    [1, '1'],
    [2, '1'],
    [10, '55'],
    [50, '12586269025'],
    [93, '12200160415121876738'],
    [100, '354224848179261915075'],
  ])('F(%i) = %s', async (n, value) => {
    expect(await run('fib', { n })).toEqual({ n, value, digits: value.length });
  });

  it('F(1000) has 209 digits with the known head and tail; F(100000) has 20899 digits', async () => {
    const r = (await run('fib', { n: 1000 })) as { value: string; digits: number };
    expect(r.digits).toBe(209);
    expect(r.value.startsWith('43466557686937456435')).toBe(true);
    expect(r.value.endsWith('76137795166849228875')).toBe(true);
    expect(await run('fib', { n: 100000 })).toMatchObject({ digits: 20899 });
  });

  it('rejects negative n', async () => {
    await expect(run('fib', { n: -1 })).rejects.toThrow(/invalid payload for job type "fib"/);
  });
});

describe('simulated', () => {
  it('fails exactly when the random draw is below FAILURE_RATE', async () => {
    const settings = { processingDurationMs: 0, failureRate: 0.15 };
    await expect(run('simulated', {}, ctx({ random: () => 0.1499, settings }))).rejects.toThrow(JobFailure);
    await expect(run('simulated', {}, ctx({ random: () => 0.15, settings }))).resolves.toEqual({
      simulated: true,
      durationMs: 0,
    });
  });

  it('waits PROCESSING_DURATION_MS, or payload.durationMs, in tenths through the injected sleep, reporting progress after each', async () => {
    const waits: number[] = [];
    const progress: [number, string | undefined][] = [];
    const sleep = async (ms: number) => void waits.push(ms);
    const c = () =>
      ctx({
        sleep,
        progress: (f, m) => void progress.push([f, m]),
        settings: { processingDurationMs: 300000, failureRate: 0 },
      });
    await run('simulated', { batch: 3 }, c());
    expect(waits).toEqual(Array(10).fill(30000));
    expect(progress.map(([f]) => f)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    expect(progress[2][1]).toBe('step 3 of 10');
    waits.length = 0;
    await run('simulated', { durationMs: 42 }, c());
    expect(waits.reduce((a, b) => a + b, 0)).toBe(42);
    expect(waits).toHaveLength(10);
    waits.length = 0;
    progress.length = 0;
    await run('simulated', { durationMs: 0 }, c());
    expect(waits).toEqual([]); // 0 ms needs no timer
    expect(progress).toEqual([]);
  });

  it('every handler logs what it does and reports progress up to 1', async () => {
    for (const [type, payload] of [
      ['hash', { input: 'abc', iterations: 50_000 }],
      ['primes', { n: 1_000_000 }],
      ['fib', { n: 1000 }],
      ['simulated', { durationMs: 10 }],
    ] as const) {
      const lines: string[] = [];
      const fractions: number[] = [];
      const log = {
        debug: () => undefined,
        info: (m: string) => void lines.push(m),
        warn: () => undefined,
        error: () => undefined,
      };
      await run(type, payload, ctx({ log, progress: (f) => void fractions.push(f) }));
      expect(lines.length).toBeGreaterThan(0);
      expect(fractions.at(-1)).toBe(1);
      expect([...fractions].sort((a, b) => a - b)).toEqual(fractions);
    }
  });

  it('is cut short by the signal', async () => {
    const ac = new AbortController();
    const p = run(
      'simulated',
      {},
      ctx({ signal: ac.signal, settings: { processingDurationMs: 60000, failureRate: 0 } }),
    );
    ac.abort(new Error('shutting down'));
    await expect(p).rejects.toThrow('shutting down');
  });
});

describe('registry', () => {
  it('knows every handler once, by type', () => {
    expect(registry.types()).toEqual(['fib', 'hash', 'primes', 'simulated']);
    expect(registry.get('nope')).toBeUndefined();
    expect(() => new HandlerRegistry([...HANDLERS, HANDLERS[0]])).toThrow(/two handlers for job type "simulated"/);
  });
});
