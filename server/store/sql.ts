/**
 * How the store runs SQL. One small interface, two implementations:
 * - PostgreSQL: Knex (its pool, its transactions), raw SQL with `?` placeholders.
 * - SQLite: one better-sqlite3 connection with a cache of prepared statements. Knex prepares every
 *   statement anew and wraps each step in promises and pool checkouts; on the claim/complete path that
 *   cost 10x the SQL itself (docs/performance.md). Statements run synchronously; a promise-chain mutex
 *   keeps transactions (and reads) from interleaving on the one connection.
 */
import type Database from 'better-sqlite3';
import type { Knex } from 'knex';

export interface RawResult<T> {
  rows: T[];
  changes: number;
}

export interface Executor {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs SQL with `?` placeholders: rows (SELECT or RETURNING) and the changed row count. */
  run<T = Record<string, unknown>>(sql: string, bindings?: readonly unknown[]): Promise<RawResult<T>>;
  /** Runs fn in one transaction; a throw rolls it back. Not re-entrant. */
  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T>;
}

export type Db = Executor;

export async function run<T = Record<string, unknown>>(db: Executor, sql: string, bindings: readonly unknown[] = []): Promise<RawResult<T>> {
  return db.run<T>(sql, bindings);
}

export async function one<T>(db: Executor, sql: string, bindings: readonly unknown[] = []): Promise<T | undefined> {
  return (await db.run<T>(sql, bindings)).rows[0];
}

/** Splits a list so that no statement exceeds the bind-variable limits of either backend. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export const placeholders = (n: number): string => Array.from({ length: n }, () => '?').join(', ');

/** INSERT of several rows with the same columns; returns SQL and bindings. */
export function insertSql(table: string, rows: Record<string, unknown>[], suffix = ''): { sql: string; bindings: unknown[] } {
  const cols = Object.keys(rows[0]);
  const values = rows.map(() => `(${placeholders(cols.length)})`).join(', ');
  return { sql: `INSERT INTO ${table} (${cols.join(', ')}) VALUES ${values}${suffix ? ` ${suffix}` : ''}`, bindings: rows.flatMap((r) => cols.map((c) => r[c])) };
}

// ---------------------------------------------------------------- PostgreSQL through Knex

export class KnexExecutor implements Executor {
  constructor(
    readonly knex: Knex | Knex.Transaction,
    readonly dialect: 'sqlite' | 'postgres',
  ) {}

  async run<T>(sql: string, bindings: readonly unknown[] = []): Promise<RawResult<T>> {
    const res = await this.knex.raw(sql, bindings as Knex.RawBinding[]);
    if (Array.isArray(res)) return { rows: res as T[], changes: res.length };
    if (res && Array.isArray(res.rows)) return { rows: res.rows as T[], changes: Number(res.rowCount ?? res.rows.length) };
    return { rows: [], changes: Number(res?.changes ?? 0) };
  }

  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    return (this.knex as Knex).transaction((trx) => fn(new KnexExecutor(trx, this.dialect)));
  }
}

// ---------------------------------------------------------------- SQLite through better-sqlite3

export class SqliteExecutor implements Executor {
  readonly dialect = 'sqlite' as const;
  private readonly statements = new Map<string, Database.Statement>();
  /** Tail of the queue of work that must not interleave with a transaction. */
  private tail: Promise<unknown> = Promise.resolve();
  private busy = false;

  constructor(readonly db: Database.Database) {}

  private exec<T>(sql: string, bindings: readonly unknown[]): RawResult<T> {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      if (this.statements.size > 500) this.statements.clear(); // bulk inserts of varying sizes
      this.statements.set(sql, stmt);
    }
    const args = bindings.map((b) => (typeof b === 'boolean' ? Number(b) : b));
    if (stmt.reader) {
      const rows = stmt.all(...args) as T[];
      return { rows, changes: rows.length };
    }
    const r = stmt.run(...args);
    return { rows: [], changes: r.changes };
  }

  /** Runs now when no transaction holds the connection, else after it. */
  run<T>(sql: string, bindings: readonly unknown[] = []): Promise<RawResult<T>> {
    if (!this.busy) {
      try {
        return Promise.resolve(this.exec<T>(sql, bindings));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return this.enqueue(async () => this.exec<T>(sql, bindings));
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const next = this.tail.then(async () => {
      this.busy = true;
      try {
        return await work();
      } finally {
        this.busy = false;
      }
    });
    this.tail = next.catch(() => undefined);
    return next;
  }

  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    const inner: Executor = {
      dialect: 'sqlite',
      run: async <R>(sql: string, bindings: readonly unknown[] = []) => this.exec<R>(sql, bindings),
      transaction: () => Promise.reject(new Error('nested transactions are not supported')),
    };
    return this.enqueue(async () => {
      this.exec('BEGIN IMMEDIATE', []);
      try {
        const out = await fn(inner);
        this.exec('COMMIT', []);
        return out;
      } catch (err) {
        if (this.db.inTransaction) this.exec('ROLLBACK', []);
        throw err;
      }
    });
  }
}
