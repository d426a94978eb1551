/**
 * Free text through every field that stores it, on SQLite and on PostgreSQL: bot names, job keys,
 * failure messages (fail and the lean path), job payloads and results. fast-check builds strings that
 * always hold at least one hard character (NUL, a lone surrogate, U+FFFF, a right-to-left override,
 * an emoji, a combining mark). The server must answer < 500 (a 400 for text it will not store is
 * fine), and text it accepted must come back exactly as sent when it was well-formed Unicode.
 * (PostgreSQL cannot store NUL in TEXT; SQLite can: the same request must not be a 500 on either.)
 */
import fs from 'node:fs';
import fc from 'fast-check';
import { describePostgres, dropSchema, freshSchemaUrl } from './helpers/postgres';
import { startInProcess } from './helpers/server-in-process';
import { ADMIN_TOKEN, BOT_TOKEN } from './helpers/server-process';
import { testTime } from './helpers/time';

const RUNS = process.env.FUZZ_TEXT_RUNS?.trim() ? Number(process.env.FUZZ_TEXT_RUNS) : 60;
const SEED = process.env.FUZZ_SEED?.trim() ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);

jest.setTimeout(testTime(60_000));

const HARD = ['\u0000', '\uD800', '\uDFFF', '\uFFFF', '\u202E', '😀', 'e\u0301', '\u2028', '"', '\\'];
/** 1..maxLength characters with at least one hard one somewhere. */
const hardText = (maxLength: number) =>
  fc
    .tuple(
      fc.string({ unit: 'grapheme', maxLength: maxLength / 2 }),
      fc.constantFrom(...HARD),
      fc.string({ maxLength: maxLength / 2 }),
    )
    .map(([a, h, b]) => `${a}${h}${b}`);

/** No lone surrogate: such text cannot be stored as UTF-8 by either database, so it may change. */
const wellFormed = (s: string) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);

type Post = (route: string, body: unknown) => Promise<{ status: number; json: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any

function textSuite(env: () => Record<string, string>, cleanup: () => Promise<void> = async () => {}): void {
  let srv: Awaited<ReturnType<typeof startInProcess>>;
  let post: Post;
  let seq = 0;
  beforeAll(async () => {
    srv = await startInProcess({ RATE_LIMIT_ADMIN_PER_S: '0', RATE_LIMIT_EMPTY_CLAIMS_PER_S: '0', ...env() });
    post = async (route, body) => {
      const res = await fetch(`${srv.url}${route}`, {
        method: 'POST',
        // Enqueueing is the admin's; the rest is the bots'.
        headers: {
          authorization: `Bearer ${route === '/jobs' ? ADMIN_TOKEN : BOT_TOKEN}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : null };
    };
  });
  afterAll(async () => {
    await srv?.close();
    if (srv) fs.rmSync(srv.dir, { recursive: true, force: true });
    await cleanup();
  });

  /** A job this test's own bot holds, running; for the report routes. */
  async function runningJob(botId: string, payload: unknown = {}): Promise<{ id: string; attempts: number }> {
    expect((await post('/bots/register', { id: botId })).status).toBeLessThan(300);
    const created = await post('/jobs', { type: `text${++seq}`, payload });
    expect(created.status).toBe(201);
    const next = await post('/jobs/next', { botId, waitMs: 0 });
    expect(next.status).toBe(200);
    expect(next.json.job?.id).toBeDefined();
    return next.json.job;
  }

  const cases: { field: string; run: (s: string) => Promise<{ status: number; stored?: unknown }> }[] = [
    {
      field: 'bot name',
      run: async (s) => {
        const r = await post('/bots/register', { id: `text-bot-${++seq}`, name: s.slice(0, 128) });
        return { status: r.status, stored: r.json?.name };
      },
    },
    {
      field: 'job key',
      run: async (s) => {
        const r = await post('/jobs', { type: 'textkey', key: s.slice(0, 256) });
        return { status: r.status, stored: r.json?.key };
      },
    },
    {
      field: 'payload',
      run: async (s) => {
        const r = await post('/jobs', { type: 'textpayload', payload: { s, [s]: 1 } });
        return { status: r.status, stored: r.json?.payload?.s };
      },
    },
    {
      field: 'fail error',
      run: async (s) => {
        const botId = `text-fail-${++seq}`;
        const job = await runningJob(botId);
        const r = await post(`/jobs/${job.id}/fail`, { botId, attempt: job.attempts, error: s });
        return { status: r.status, stored: r.json?.error };
      },
    },
    {
      field: 'lean fail error',
      run: async (s) => {
        const botId = `text-next-${++seq}`;
        const job = await runningJob(botId);
        const r = await post('/jobs/next', {
          botId,
          waitMs: 0,
          fail: { jobId: job.id, attempt: job.attempts, error: s },
        });
        return { status: r.status, stored: r.json?.finished?.error };
      },
    },
    {
      field: 'complete result',
      run: async (s) => {
        const botId = `text-done-${++seq}`;
        const job = await runningJob(botId);
        const r = await post(`/jobs/${job.id}/complete`, { botId, attempt: job.attempts, result: { s } });
        return { status: r.status, stored: r.json?.result?.s };
      },
    },
  ];

  for (const c of cases) {
    test(`${c.field}: hard characters never give a 5xx; accepted well-formed text comes back unchanged`, async () => {
      const problems: string[] = [];
      // Each hard character alone first, so every one is tried whatever the seed; then generated text.
      for (const s of [
        ...HARD,
        ...fc.sample(hardText(c.field.includes('name') ? 120 : 200), { numRuns: RUNS, seed: SEED }),
      ]) {
        const { status, stored } = await c.run(s);
        const sent = c.field === 'bot name' ? s.slice(0, 128) : c.field === 'job key' ? s.slice(0, 256) : s;
        if (status >= 500) problems.push(`${status} for ${JSON.stringify(sent)}`);
        else if (status < 300 && wellFormed(sent) && stored !== sent)
          problems.push(`stored ${JSON.stringify(stored)} for ${JSON.stringify(sent)}`);
      }
      if (problems.length)
        throw new Error(
          `FUZZ_SEED=${SEED}: ${problems.length} of ${RUNS + HARD.length}, e.g.\n${[...new Set(problems)].slice(0, 4).join('\n')}`,
        );
    });
  }
}

describe('free text [sqlite]', () => textSuite(() => ({})));

describePostgres('free text [postgres]', () => {
  const { url, schema } = freshSchemaUrl('fuzztext');
  textSuite(
    () => ({ DATABASE_URL: url }),
    () => dropSchema(schema),
  );
});
