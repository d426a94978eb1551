import { CreateJobSchema, isJson, JsonSchema } from './types';

describe('JSON values (payloads and results)', () => {
  test('accepts every JSON value, nested', () => {
    for (const v of [
      null,
      true,
      false,
      0,
      -1.5,
      '',
      'x',
      [],
      {},
      [1, 'a', null, [{}]],
      { a: { b: [1, { c: null }] } },
    ]) {
      expect(isJson(v)).toBe(true);
      expect(JsonSchema.parse(v)).toEqual(v);
    }
  });

  test('refuses what JSON cannot carry, at any depth, with a message', () => {
    const bad: unknown[] = [
      undefined,
      NaN,
      Infinity,
      () => 1,
      Symbol('s'),
      10n,
      new Date(0),
      new Map(),
      { a: [1, undefined] },
      [{ b: NaN }],
      Object.create({ inherited: 1 }),
    ];
    for (const v of bad) expect(isJson(v)).toBe(false);
    const r = CreateJobSchema.safeParse({ type: 'simulated', payload: { when: new Date(0) } });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]).toMatchObject({ path: ['payload'], message: expect.stringMatching(/JSON value/) });
  });

  test('a cycle or absurd depth is refused, not a stack overflow', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(isJson(cyclic)).toBe(false);
    let deep: unknown = 1;
    for (let i = 0; i < 1000; i++) deep = [deep];
    expect(isJson(deep)).toBe(false);
  });
});
