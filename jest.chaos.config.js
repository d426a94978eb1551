/** `npm run test:chaos`: the long fault-injection suite (test/chaos/*.chaos.test.ts). */
const { testTime } = require('./test/helpers/time');

module.exports = {
  testEnvironment: '<rootDir>/test/helpers/environment.js',
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest'] },
  testMatch: ['<rootDir>/test/**/*.chaos.test.ts'],
  testTimeout: testTime(300000),
  maxWorkers: 1,
};
