/**
 * The chart on the local Kubernetes with its default database: one server on SQLite, its data on a
 * PersistentVolumeClaim (test/deploy-helm-scenario.ts says what is checked).
 */
import { helmScenario } from './deploy-helm-scenario';

describe('helm chart on the local cluster, SQLite', () => {
  helmScenario({
    name: 'sqlite',
    values: ['-f', 'charts/botfleet/ci/local-cluster-values.yaml'],
    serverPorts: [3001],
    dashboardPort: 3002,
  });
});
