import { applyNiceness, type PriorityApi } from './niceness';

function fakeApi(start: number, refuse = false): PriorityApi & { calls: number[] } {
  let p = start;
  const calls: number[] = [];
  return {
    calls,
    getPriority: () => p,
    setPriority: (n) => {
      calls.push(n);
      if (refuse) throw new Error('EACCES: permission denied');
      p = n;
    },
  };
}

describe('applyNiceness', () => {
  it('raises the niceness to the target', () => {
    const api = fakeApi(0);
    expect(applyNiceness(10, api)).toEqual({ nice: 10 });
    expect(api.calls).toEqual([10]);
  });

  it('never lowers a niceness the process was started with, and 0 leaves it alone', () => {
    const started = fakeApi(15);
    expect(applyNiceness(10, started)).toEqual({ nice: 15 });
    const zero = fakeApi(0);
    expect(applyNiceness(0, zero)).toEqual({ nice: 0 });
    expect([...started.calls, ...zero.calls]).toEqual([]);
  });

  it('reports a refusal and keeps the current niceness', () => {
    expect(applyNiceness(10, fakeApi(2, true))).toEqual({ nice: 2, error: 'EACCES: permission denied' });
  });
});
