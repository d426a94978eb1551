/** Small helpers that hide the differences between the two Knex drivers' raw results. */
import type { Knex } from 'knex';

export type Db = Knex | Knex.Transaction;

export interface RawResult<T> {
  rows: T[];
  changes: number;
}

/** Runs raw SQL with `?` placeholders; returns rows (RETURNING or SELECT) and the changed row count. */
export async function run<T = Record<string, unknown>>(db: Db, sql: string, bindings: readonly unknown[] = []): Promise<RawResult<T>> {
  const res = await db.raw(sql, bindings as Knex.RawBinding[]);
  if (Array.isArray(res)) return { rows: res as T[], changes: res.length };
  if (res && Array.isArray(res.rows)) return { rows: res.rows as T[], changes: Number(res.rowCount ?? res.rows.length) };
  return { rows: [], changes: Number(res?.changes ?? 0) };
}

export async function one<T>(db: Db, sql: string, bindings: readonly unknown[] = []): Promise<T | undefined> {
  return (await run<T>(db, sql, bindings)).rows[0];
}

/** Splits a list so that no statement exceeds the bind-variable limits of either backend. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export const placeholders = (n: number): string => Array.from({ length: n }, () => '?').join(', ');
