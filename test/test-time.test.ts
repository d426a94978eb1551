/** test/helpers/time.js: every test time-out is scaled by TEST_TIME_SCALE (default 4; bad values fall back). */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const TIME = path.join(__dirname, 'helpers', 'time.js');

function scaled(env: string | undefined, ms: number): number {
  const { TEST_TIME_SCALE: _drop, ...rest } = process.env;
  const out = execFileSync(
    process.execPath,
    ['-e', `process.stdout.write(String(require(${JSON.stringify(TIME)}).testTime(${ms})))`],
    {
      env: env === undefined ? rest : { ...rest, TEST_TIME_SCALE: env },
    },
  );
  return Number(out.toString());
}

test('TEST_TIME_SCALE multiplies time-outs; unset, empty, zero, negative or not a number means 4', () => {
  expect(scaled(undefined, 30000)).toBe(120000);
  expect(scaled('2', 30000)).toBe(60000);
  expect(scaled('0.5', 1001)).toBe(501);
  for (const bad of ['', '0', '-3', 'fast']) expect(scaled(bad, 1000)).toBe(4000);
});

test('jest.config.js takes its per-test limit from testTime()', () => {
  const { testTime } = require('./helpers/time') as typeof import('./helpers/time'); // eslint-disable-line @typescript-eslint/no-require-imports
  const config = require('../jest.config.js') as { testTimeout: number }; // eslint-disable-line @typescript-eslint/no-require-imports
  expect(config.testTimeout).toBe(testTime(30000));
});
