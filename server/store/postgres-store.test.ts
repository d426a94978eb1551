import { describePostgres, dropSchema, freshSchemaUrl } from '../../test/helpers/postgres';
import { storeContract, STORE_OPTS } from './store.contract';
import { openStore } from './open';

describePostgres('PostgreSQL store', () => {
  const schemas: string[] = [];
  afterAll(async () => {
    for (const s of schemas) await dropSchema(s);
  });
  storeContract('PostgreSQL', async () => {
    const { url, schema } = freshSchemaUrl('store');
    schemas.push(schema);
    return openStore(url, STORE_OPTS);
  });
});
