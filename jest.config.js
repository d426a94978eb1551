/** Unit tests sit next to their source; cross-component tests in test/. Chaos tests: jest.chaos.config.js. */
const { testTime } = require('./test/helpers/time');

module.exports = {
  testEnvironment: '<rootDir>/test/helpers/environment.js',
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest'] },
  transformIgnorePatterns: ['/node_modules/(?!(@kubernetes/client-node|openid-client|oauth4webapi|jose)/)'],
  testMatch: ['<rootDir>/**/*.test.ts'],
  // Chaos tests: npm run test:chaos; deploy tests (real Docker and Kubernetes): npm run test:deploy.
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '\\.chaos\\.test\\.ts$', '/test/deploy-'],
  testTimeout: testTime(30000), // a hang, not slowness: see test/helpers/time.js
  maxWorkers: 2,
};
