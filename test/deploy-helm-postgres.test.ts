/**
 * The chart on the local Kubernetes with two servers sharing the machine's PostgreSQL, in a fresh
 * schema dropped afterwards. On the node's network the replicas listen on 3001 and 3002 and the
 * dashboard on 3004 (charts/botfleet/ci/local-cluster-postgres-values.yaml); test/deploy-helm-scenario.ts
 * says what is checked.
 */
import { helmScenario } from './deploy-helm-scenario';
import { dropSchema, freshSchemaUrl } from './helpers/postgres';

const { url, schema } = freshSchemaUrl('deploy_helm');

afterAll(() => dropSchema(schema));

describe('helm chart on the local cluster, PostgreSQL with 2 servers', () => {
  helmScenario({
    name: 'postgres',
    values: [
      '-f',
      'charts/botfleet/ci/local-cluster-values.yaml',
      '-f',
      'charts/botfleet/ci/local-cluster-postgres-values.yaml',
      '--set-string',
      `postgresql.url=${url}`,
    ],
    serverPorts: [3001, 3002],
    dashboardPort: 3004,
  });
});
