/**
 * Schema migrations run by Knex's own migrator, from a fixed list of migration modules per database
 * (sqlite/migrations/, postgres/migrations/). Each runs once, in name order, recorded in
 * knex_migrations; the whole batch is one transaction.
 */
import knexFactory, { type Knex } from 'knex';

export interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * Brings the database of `connection` to the latest migration on one connection of its own. `hold`
 * runs first on that connection (PostgreSQL takes a session lock there, so servers starting together
 * take turns).
 */
export async function migrateToLatest(
  connection: Knex.Config,
  migrations: Record<string, Migration>,
  hold: (knex: Knex) => Promise<unknown> = async () => undefined,
): Promise<void> {
  const knex = knexFactory({ ...connection, pool: { min: 1, max: 1 } });
  try {
    await hold(knex);
    await knex.migrate.latest({
      migrationSource: {
        getMigrations: async () => Object.keys(migrations).sort(),
        getMigrationName: (name: string) => name,
        getMigration: async (name: string) => migrations[name],
      },
    });
  } finally {
    await knex.destroy();
  }
}
