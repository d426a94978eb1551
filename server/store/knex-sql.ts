/**
 * Knex builds the store's SQL; the drivers run it. One Knex instance per dialect, without a
 * connection: the schema (tables of the migrations) and the queries whose shape depends on the
 * request (list filters) are written once with Knex's builders and compiled to each dialect's SQL.
 * The executors of sql.ts then run that text on better-sqlite3 (prepared-statement cache) or on
 * node-postgres's pool: Knex's own connection handling cost ~10x the SQL on the claim path
 * (docs/performance.md), its builders cost nothing once compiled.
 */
import knexFactory, { type Knex } from 'knex';

export type Dialect = 'sqlite' | 'postgres';

const builders: Record<Dialect, Knex> = {
  sqlite: knexFactory({ client: 'better-sqlite3', useNullAsDefault: true }),
  postgres: knexFactory({ client: 'pg' }),
};

export function knexFor(dialect: Dialect): Knex {
  return builders[dialect];
}

export interface CompiledSql {
  /** SQL text with `?` placeholders (the executors number them for PostgreSQL). */
  sql: string;
  bindings: unknown[];
}

/** Compiles a Knex query to `?`-placeholder SQL and its bindings. */
export function compile(query: Knex.QueryBuilder | Knex.Raw): CompiledSql {
  const { sql, bindings } = query.toSQL();
  return { sql, bindings: [...bindings] };
}

/** The DDL statements of a schema builder, in order (they carry no bindings). */
export function ddl(schema: Knex.SchemaBuilder): string[] {
  return (schema.toSQL() as unknown as { sql: string; bindings: unknown[] }[]).map((s) => {
    if (s.bindings?.length) throw new Error(`DDL with bindings is not supported: ${s.sql}`);
    return s.sql;
  });
}
