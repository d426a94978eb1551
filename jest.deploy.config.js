/**
 * `npm run test:deploy` runs these through scripts/test-deploy.sh, one stage at a time, after it
 * has built the image and started the local cluster: test/deploy-*.test.ts, one file at a time.
 */
const { testTime } = require('./test/helpers/time');

module.exports = {
  testEnvironment: '<rootDir>/test/helpers/environment.js',
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest'] },
  transformIgnorePatterns: ['/node_modules/(?!(@kubernetes/client-node|openid-client|oauth4webapi|jose)/)'],
  testMatch: ['<rootDir>/test/deploy-*.test.ts'],
  testTimeout: testTime(300000),
  maxWorkers: 1,
};
