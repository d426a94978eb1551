/**
 * Wake-ups between servers through a real PostgreSQL (LISTEN/NOTIFY): what one publishes, the others
 * of the same schema hear, with the count; the sender and other schemas do not. A server that is not
 * listening yet still reaches the others.
 */
import { silentLogger } from '../core/logger';
import { describePostgres, freshSchemaUrl } from '../test/helpers/postgres';
import { waitFor } from '../test/helpers/server-process';
import { postgresWakeups, type Wakeups } from './pg-wakeups';
import { parseDatabaseUrl, type PostgresTarget } from './store/open';

describePostgres('PostgreSQL wake-ups', () => {
  const started: Wakeups[] = [];
  afterAll(async () => {
    for (const w of started) await w.stop();
  });
  const heard = () => {
    const got: (number | undefined)[] = [];
    return { got, on: (count?: number) => void got.push(count) };
  };
  const start = (url: string, on: (count?: number) => void) => {
    const w = postgresWakeups(parseDatabaseUrl(url) as PostgresTarget, silentLogger(), on);
    started.push(w);
    return w;
  };

  test('the other servers of the schema hear each wake-up with its count; the sender and other schemas do not', async () => {
    const { url } = freshSchemaUrl('wake'); // the schema is only a name here: nothing is created in it
    const other = freshSchemaUrl('wakeother').url;
    const [a, b, c] = [heard(), heard(), heard()];
    const wa = start(url, a.on);
    const wc = start(other, c.on);
    await waitFor(() => wa.hearsAll() && wc.hearsAll(), 10_000, 10);
    a.got.length = 0; // each hears one wake-up of its own when it starts listening (what it missed)
    c.got.length = 0;
    const wb = start(url, b.on);
    wb.publish(3); // b is not listening yet: this goes out on a connection of its own
    await waitFor(() => a.got.length === 1, 10_000, 10);
    expect(a.got).toEqual([3]);
    await waitFor(() => wb.hearsAll(), 10_000, 10);
    b.got.length = 0;
    wb.publish(2);
    wb.publish(1); // the same event-loop turn: one NOTIFY
    await waitFor(() => a.got.length === 2, 10_000, 10);
    wb.publish(); // everyone
    await waitFor(() => a.got.length === 3, 10_000, 10);
    expect(a.got).toEqual([3, 3, undefined]);
    wa.publish(5);
    await waitFor(() => b.got.length === 1, 10_000, 10);
    expect(b.got).toEqual([5]);
    await new Promise((r) => setTimeout(r, 200));
    expect(a.got).toHaveLength(3); // not its own
    expect(c.got).toEqual([]); // another schema's server
  });
});
