/**
 * The contract suite's frame (server/store/contract/*.test.ts): each contract file runs every one of
 * its tests on each database, a fresh SQLite file and a fresh PostgreSQL schema, with a ManualClock
 * so that leases, timeouts and schedules are exact.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../../core/clock';
import { type Bot, CreateJobSchema, type CreateJobInput } from '../../../core/types';
import { describePostgres, dropSchema, freshSchemaUrl } from '../../../test/helpers/postgres';
import { openStore } from '../open';
import type { Store } from '../types';

export const STORE_OPTS = { defaultMaxAttempts: 1, defaultTimeoutMs: 0, botDownAfterMs: 120_000 };

export const job = (input: Partial<CreateJobInput> = {}) =>
  CreateJobSchema.parse({ type: 'simulated', payload: {}, ...input });

export interface Contract {
  store: Store;
  clock: ManualClock;
  now: () => number;
  /** Registers bot `id` and returns it. */
  bot: (id: string) => Promise<Bot>;
}

type Cleanup = (fn: () => unknown) => void;

/** Each database: how to describe its tests, and a fresh store on it (`later` removes what it made). */
const DATABASES: {
  name: string;
  describe: (name: string, fn: () => void) => void;
  open: (later: Cleanup) => Promise<Store>;
}[] = [
  {
    name: 'SQLite file',
    describe,
    open: (later) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-'));
      later(() => fs.rmSync(dir, { recursive: true, force: true }));
      return openStore(`sqlite://${path.join(dir, 'jobs.db')}`, STORE_OPTS);
    },
  },
  {
    name: 'PostgreSQL',
    describe: describePostgres,
    open: (later) => {
      const { url, schema } = freshSchemaUrl('store');
      later(() => dropSchema(schema));
      return openStore(url, STORE_OPTS);
    },
  },
];

/** Runs `tests` once per database; each test takes its store, clock and helpers from `c()`. */
export function storeContract(area: string, tests: (c: () => Contract) => void): void {
  for (const db of DATABASES) {
    db.describe(`store contract, ${area}: ${db.name}`, () => {
      let current: Contract;
      const cleanups: (() => unknown)[] = [];
      afterAll(async () => {
        for (const fn of cleanups) await fn();
      });
      beforeEach(async () => {
        const store = await db.open((fn) => cleanups.push(fn));
        await store.migrate();
        const clock = new ManualClock();
        const now = () => clock.now();
        current = { store, clock, now, bot: async (id: string) => (await store.registerBot({ id }, now())).bot };
      });
      afterEach(() => current.store.close());
      tests(() => current);
    });
  }
}
