/** How PostgreSQL's errors reach the API: a botfleet_* function's refusal, an unreachable database. */
import { botRefusal, JobChangedError, type Refusal } from '../rules';

/** A botfleet_* function's refusal (SQLSTATE BF404/BF409, the reason as message) as the API's error. */
export function refusal(err: unknown, botId: string): unknown {
  const e = err as { code?: string; message?: string; detail?: string };
  if (e?.code !== 'BF404' && e?.code !== 'BF409') return err;
  if (e.message === 'job_changed') return new JobChangedError(e.detail ?? '');
  return botRefusal(e.message as Refusal, botId || (e.detail ?? ''), e.detail ?? null);
}

/**
 * node-postgres reports an unreachable database partly without an error code (a pool checkout that
 * times out, a connection that ends mid-query). Such errors get SQLSTATE 08006 (connection failure),
 * so the HTTP layer answers 503 as it does for every other sign of a database that is away.
 */
export function asApiError(err: unknown): unknown {
  const e = err as { code?: string; message?: string } | null;
  if (e && !e.code && /timeout exceeded|Connection terminated|connection is closed/i.test(e.message ?? ''))
    Object.assign(e, { code: '08006' });
  return err;
}
