/**
 * How the store runs SQL. One small interface, two implementations, raw SQL with `?` placeholders:
 * - PostgreSQL: node-postgres's pool and one pooled client per transaction.
 * - SQLite: one better-sqlite3 connection with a cache of prepared statements. Knex prepares every
 *   statement anew and wraps each step in promises and pool checkouts; on the claim/complete path that
 *   cost 10x the SQL itself (docs/performance.md). Statements run synchronously; a promise-chain mutex
 *   keeps transactions (and reads) from interleaving on the one connection.
 */
import type Database from 'better-sqlite3';

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

export async function run<T = Record<string, unknown>>(
  db: Executor,
  sql: string,
  bindings: readonly unknown[] = [],
): Promise<RawResult<T>> {
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

/** `(tuple), (tuple), …` n times: the VALUES list of a multi-row INSERT. */
export const valuesList = (tuple: string, n: number): string =>
  Array.from({ length: n }, () => `(${tuple})`).join(', ');

/** SQL texts by shape: a bulk insert of 1,000 rows x 8 columns is 8,000 placeholders to build. */
const sqlTexts = new Map<string, string>();

/** The SQL text cached under `key`, built once. */
export function sqlByShape(key: string, build: () => string): string {
  let sql = sqlTexts.get(key);
  if (sql === undefined) {
    if (sqlTexts.size > 200) sqlTexts.clear(); // batches of varying sizes
    sql = build();
    sqlTexts.set(key, sql);
  }
  return sql;
}

/** INSERT of several rows with the same columns; returns SQL and bindings. */
export function insertSql(
  table: string,
  rows: Record<string, unknown>[],
  suffix = '',
): { sql: string; bindings: unknown[] } {
  const cols = Object.keys(rows[0]);
  const sql = sqlByShape(
    `${table}|${cols.join(',')}|${rows.length}|${suffix}`,
    () =>
      `INSERT INTO ${table} (${cols.join(', ')}) VALUES ${valuesList(placeholders(cols.length), rows.length)}${suffix ? ` ${suffix}` : ''}`,
  );
  const bindings = new Array<unknown>(rows.length * cols.length);
  let i = 0;
  for (const r of rows) for (const c of cols) bindings[i++] = r[c];
  return { sql, bindings };
}

// ---------------------------------------------------------------- PostgreSQL through pg

/** `?` placeholders to `$1, $2, …` (the store's SQL has no `?` inside string literals). */
export function numberPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/**
 * PostgreSQL on node-postgres's pool directly. Knex added a pool checkout, a query builder pass and
 * several promise hops to each of the ~15 statements of a claim+report (docs/performance.md); the
 * SQL is already raw, so the pool is all this needs. SQL text is converted once and cached.
 */
export class PgExecutor implements Executor {
  readonly dialect = 'postgres' as const;
  private readonly converted = new Map<string, string>();

  constructor(private readonly pool: { query: PgQuery; connect(): Promise<PgClient> }) {}

  private text(sql: string): string {
    let t = this.converted.get(sql);
    if (t === undefined) {
      t = numberPlaceholders(sql);
      if (this.converted.size > 500) this.converted.clear(); // bulk inserts of varying sizes
      this.converted.set(sql, t);
    }
    return t;
  }

  run<T>(sql: string, bindings: readonly unknown[] = []): Promise<RawResult<T>> {
    return this.runOn<T>(this.pool.query.bind(this.pool), sql, bindings);
  }

  /** One statement on the pool or on a transaction's client. */
  private async runOn<T>(query: PgQuery, sql: string, bindings: readonly unknown[]): Promise<RawResult<T>> {
    try {
      const res = await query(this.text(sql), bindings as unknown[]);
      return { rows: res.rows as T[], changes: Number(res.rowCount ?? res.rows.length) };
    } catch (err) {
      throw asConnectionError(err);
    }
  }

  /** Runs fn in a transaction, again after a deadlock (retryRolledBack). */
  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    return retryRolledBack(() => this.transactionOnce(fn));
  }

  private async transactionOnce<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    let client: PgClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw asConnectionError(err);
    }
    // A checked-out client reports a dropped connection as an 'error' event; without a listener
    // that would end the process. The query in flight rejects as well, which is what we act on.
    const ignore = () => undefined;
    client.on('error', ignore);
    const inner: Executor = {
      dialect: 'postgres',
      run: <R>(sql: string, bindings: readonly unknown[] = []) =>
        this.runOn<R>(client.query.bind(client), sql, bindings),
      transaction: () => Promise.reject(new Error('nested transactions are not supported')),
    };
    let broken: unknown = undefined;
    try {
      await client.query('BEGIN');
      const out = await fn(inner);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        broken = rollbackErr; // the connection is unusable: drop it from the pool
      }
      throw err;
    } finally {
      client.off('error', ignore);
      client.release(broken as Error | undefined);
    }
  }
}

type PgResult = { rows: unknown[]; rowCount: number | null };
type PgQuery = (text: string, values?: unknown[]) => Promise<PgResult>;
type PgClient = {
  query: PgQuery;
  release(err?: Error | boolean): void;
  on(event: 'error', fn: () => void): unknown;
  off(event: 'error', fn: () => void): unknown;
};

/**
 * Runs work that is one PostgreSQL transaction (or one statement). A deadlock or serialization
 * failure (40P01, 40001) rolled it back whole, so it is run again (up to 4 tries, with jitter) rather
 * than answered as an error.
 */
export async function retryRolledBack<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if ((code !== '40P01' && code !== '40001') || attempt >= 4) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
    }
  }
}

/**
 * node-postgres reports an unreachable database partly without an error code (a pool checkout that
 * times out, a connection that ends mid-query). Such errors get SQLSTATE 08006 (connection failure),
 * so the HTTP layer answers 503 as it does for every other sign of a database that is away.
 */
function asConnectionError(err: unknown): unknown {
  const e = err as { code?: string; message?: string } | null;
  if (
    e &&
    !e.code &&
    /timeout exceeded when trying to connect|Connection terminated|connection is closed/i.test(e.message ?? '')
  ) {
    Object.assign(e, { code: '08006' });
  }
  return err;
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
