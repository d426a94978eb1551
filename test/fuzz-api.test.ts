/**
 * Fast-check generates FUZZ_RUNS (default 1,000) malformed requests for EVERY route the
 * server lists in GET /openapi.json: wrong types, missing and extra fields, huge numbers, unicode,
 * arrays for objects, bad ids in paths, bad query parameters, random bytes, wrong content types,
 * wrong methods and tokens of every role. Every answer must be < 500; every 4xx a JSON {error: {code,
 * message}}; no body may carry a stack trace or a file path; no route answers 2xx without a token of
 * a role it accepts (its `security` in the document). The server runs in-process (real SQLite file).
 * Replay a failure with FUZZ_SEED=<seed printed on failure>.
 */
import fs from 'node:fs';
import http from 'node:http';
import Ajv2020 from 'ajv/dist/2020';
import fc from 'fast-check';
import { ADMIN_TOKEN, BOT_TOKEN, VIEWER_TOKEN } from './helpers/server-process';
import { startInProcess } from './helpers/server-in-process';
import { describePostgres, dropSchema, freshSchemaUrl } from './helpers/postgres';
import { testTime } from './helpers/time';

const RUNS = process.env.FUZZ_RUNS?.trim() ? Number(process.env.FUZZ_RUNS) : 1000;
/** PostgreSQL answers over the network: fewer runs keep npm test short; the generators are the same. */
const RUNS_PG = process.env.FUZZ_RUNS_PG?.trim() ? Number(process.env.FUZZ_RUNS_PG) : 300;
const SEED = process.env.FUZZ_SEED?.trim() ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
const CONCURRENCY = 16;

jest.setTimeout(testTime(120_000));

/** Markers of a leaked stack trace or file path. */
const LEAKS: RegExp[] = [
  /\/work\//,
  /node_modules/,
  /\.ts:\d/,
  /\.js:\d/,
  /\n\s*at /,
  /\bat \S+ \(/,
  /\bat (?:async )?\S+:\d+:\d+/,
];
/** Inputs carrying a marker are not sent: an error message may quote the input (JSON.parse does). */
const MARKERS = ['/work/', 'node_modules', '.ts:', '.js:', 'at '];

/**
 * `roles`: the security schemes of the route (admin, bot, viewer; none: open to anyone); `accepts`:
 * the request body its published contract allows (GET /openapi.json requestBody).
 */
type Route = { method: string; path: string; roles: string[]; accepts?: (body: unknown) => boolean };

const TOKENS: Record<string, string> = { admin: ADMIN_TOKEN, bot: BOT_TOKEN, viewer: VIEWER_TOKEN };

interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
}

// ---------------------------------------------------------------------------------------- pieces

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 80,
});
const unicode = fc.string({ unit: 'grapheme', maxLength: 60 });
const hugeNumber = fc.constantFrom(
  1e308,
  -1e308,
  2 ** 53 + 1,
  -(2 ** 63),
  1e21,
  0.5,
  -1,
  -0,
  4294967296,
  Number.MAX_SAFE_INTEGER + 2,
);
const hugeNumberText = fc.constantFrom(
  '1e400',
  '-1e400',
  '123456789012345678901234567890',
  '1.0000000000000000001',
  '-0',
  '0x10',
  'NaN',
  'Infinity',
);

/** Any JSON value, biased towards the nasty ones. */
const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  unicode,
  hugeNumber,
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 4 }),
  fc.string({ maxLength: 2000 }).map((s) => s.repeat(3)),
  // NUL inside text: SQLite stores it, PostgreSQL refuses it in TEXT columns.
  fc.string({ maxLength: 8 }).map((x) => `${x}\u0000${x}`),
  fc.constantFrom('', ' ', '\u0000', '../../etc/passwd', '%00', '<script>', "' OR 1=1 --", '\uD800', '𝕏'.repeat(100)),
);

const goodId = fc.stringMatching(/^[A-Za-z0-9._:@-]{1,20}$/);
const idValue = (known: string[]) => fc.oneof(goodId, fc.constantFrom(...known), junk);
const intValue = (lo: number, hi: number) => fc.oneof(fc.integer({ min: lo, max: hi }), hugeNumber, junk);

/**
 * An object built from some of `fields` (each valid or junk), maybe extra keys, maybe not an object
 * at all: the shape every body generator starts from.
 */
function shaped(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  const obj = fc
    .tuple(
      fc.record(fields, { requiredKeys: [] }),
      fc.option(fc.dictionary(printable, junk, { maxKeys: 3 }), { nil: undefined }),
    )
    .map(([o, extra]) => ({ ...o, ...(extra ?? {}) }));
  return fc.oneof(
    { weight: 4, arbitrary: obj },
    { weight: 1, arbitrary: junk },
    { weight: 1, arbitrary: obj.map((o) => [o]) },
  );
}

function bodyFields(route: Route, known: Known): Record<string, fc.Arbitrary<unknown>> {
  const job = {
    type: fc.oneof(
      fc.constantFrom('simulated', 'fib', 'Bad Type', ''),
      fc.stringMatching(/^[a-z][a-z0-9_.-]{0,70}$/),
      junk,
    ),
    payload: junk,
    maxAttempts: intValue(-5, 200),
    priority: intValue(-2000, 2000),
    runAt: fc.oneof(
      fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }).map((d) => d.toISOString()),
      fc.constantFrom(
        '+275760-09-13T00:00:00.000Z',
        '2026-02-30T00:00:00Z',
        '2026-11-29T25:61:61Z',
        '2026-11-29T10:00:00+14:00',
        'yesterday',
      ),
      junk,
    ),
    key: fc.oneof(unicode, junk),
    timeoutMs: intValue(-1, 10 * 24 * 3600 * 1000),
  };
  const bot = idValue(known.bots);
  const attempt = intValue(-1, 5);
  // A valid long-poll would just wait: valid waits stay tiny, everything else is malformed.
  const waitMs = fc.oneof(fc.integer({ min: 0, max: 20 }), fc.constantFrom(-1, 30001, 1e12, 1.5, '100', null, []));
  const cron = fc.oneof(
    fc.constantFrom(
      '0 6 * * 1-5',
      '@hourly',
      '@reboot',
      '0 0 30 2 *',
      '61 * * * *',
      '* * * * * * *',
      '2030-01-01T00:00:00',
      '0 0 L * *',
      '1-1000000/3 * * * *',
    ),
    fc
      .array(fc.constantFrom('*', '0', '59', '*/7', '1-5', 'MON', 'JAN', 'L', '#', 'W', '?', '-1', '1e99'), {
        minLength: 1,
        maxLength: 8,
      })
      .map((p) => p.join(' ')),
    printable,
    junk,
  );
  const timezone = fc.oneof(
    fc.constantFrom('UTC', 'Europe/Berlin', 'America/Argentina/Buenos_Aires', 'Nope/Nowhere', '+01:00', 'Etc/GMT+14'),
    printable,
    junk,
  );
  const { type, payload, maxAttempts, priority, timeoutMs } = job;
  const schedule = {
    cron,
    timezone,
    job: fc.oneof(shaped({ type, payload, maxAttempts, priority, timeoutMs }), shaped(job)),
    enabled: fc.oneof(fc.boolean(), junk),
    catchUp: fc.oneof(fc.boolean(), junk),
  };
  switch (`${route.method} ${route.path}`) {
    case 'POST /schedules':
      return { name: fc.oneof(goodId, fc.constantFrom('builtin:populate', 'builtin:x'), junk), ...schedule };
    case 'PUT /schedules/{name}':
      return schedule;
    case 'POST /schedules/preview':
      return { cron, timezone };
    case 'POST /jobs/populate':
      return { count: intValue(-5, 1200) };
    case 'POST /jobs':
      return { ...job, jobs: fc.oneof(fc.array(shaped(job), { maxLength: 5 }), junk) };
    case 'POST /jobs/claim':
      return { botId: bot, waitMs };
    case 'POST /jobs/next':
      return {
        botId: bot,
        waitMs,
        complete: shaped({ jobId: idValue(known.jobs), attempt, result: junk }),
        fail: shaped({ jobId: idValue(known.jobs), attempt, error: junk }),
      };
    case 'POST /jobs/{id}/start':
    case 'POST /jobs/{id}/release':
      return { botId: bot, attempt };
    case 'POST /jobs/{id}/complete':
      return { botId: bot, attempt, result: junk };
    case 'POST /jobs/{id}/fail':
      return { botId: bot, attempt, error: fc.oneof(unicode, junk, fc.string({ minLength: 10001, maxLength: 10010 })) };
    case 'POST /bots/register':
      return { id: bot, name: fc.oneof(unicode, junk) };
    case 'POST /bots/heartbeat':
      return { botId: bot };
    default:
      return { x: junk };
  }
}

interface Known {
  jobs: string[];
  bots: string[];
}

function pathValue(route: Route, known: Known): fc.Arbitrary<string> {
  const segment = fc.oneof(
    fc.constantFrom(...known.jobs, ...known.bots).map(encodeURIComponent),
    goodId,
    unicode.filter((s) => s.length > 0).map(encodeURIComponent),
    printable.filter((s) => s.length > 0).map(encodeURIComponent),
    fc.string({ minLength: 129, maxLength: 400 }).map(encodeURIComponent),
    // Raw, not encoded: broken percent-encoding, dots, encoded slashes and NULs.
    fc.constantFrom(
      '%',
      '%ZZ',
      '%E0%A4%A',
      '%C0%AF',
      '..',
      '.',
      '%2F',
      '%00',
      'a%2Fb',
      '%FF%FE',
      '0',
      '-1',
      '1e999',
      '__proto__',
      'constructor',
    ),
  );
  const date = fc.oneof(
    fc.date({ noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
    fc.constantFrom('2026-02-30', '0000-00-00', '9999-99-99', '2026-1-1', '20261129', '%ZZ', '..', '2026-11-29.ndjson'),
    segment,
  );
  const p = route.path;
  if (p.includes('{date}')) return date.map((d) => p.replace('{date}', d));
  if (p.includes('{id}')) return segment.map((s) => p.replace('{id}', s));
  if (p.includes('{name}'))
    return fc.oneof(segment, fc.constant('builtin:populate')).map((s) => p.replace('{name}', s));
  return fc.constant(p);
}

const queryArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant('') },
  {
    weight: 3,
    arbitrary: fc
      .array(
        fc.tuple(
          fc.oneof(fc.constantFrom('status', 'botId', 'type', 'limit', 'cursor', 'waitMs', '__proto__'), printable),
          fc.oneof(
            fc.constantFrom(
              'pending',
              'running',
              'nope',
              '0',
              '-1',
              '501',
              '1e3',
              '1.5',
              'NaN',
              '',
              '%ZZ',
              'eyJ4IjoxfQ',
              'not-base64!!',
              'x'.repeat(300),
            ),
            printable,
            unicode,
            hugeNumberText,
          ),
        ),
        { maxLength: 4 },
      )
      .map((pairs) => '?' + pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '?limit=1&limit=2',
      '?status[]=pending',
      '?%ZZ=1',
      '?limit=%ZZ',
      '?cursor=%00',
      '?&&&=',
      '?limit',
    ),
  },
);

function bodyArb(route: Route, known: Known): fc.Arbitrary<string | Uint8Array<ArrayBuffer> | undefined> {
  const json = shaped(bodyFields(route, known)).map((v) => JSON.stringify(v) ?? 'undefined');
  return fc.oneof(
    { weight: 6, arbitrary: json },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => new Uint8Array(b)) },
    { weight: 1, arbitrary: hugeNumberText },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 200 }).map((n) => '['.repeat(n) + ']'.repeat(n)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '{',
        '{"a":',
        '{"botId":"x",}',
        "{'a':1}",
        '{"__proto__":{"x":1}}',
        '{"constructor":{"prototype":{}}}',
        'null',
        'true',
        '""',
        '\uFEFF{}',
      ),
    },
  );
}

const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json; charset=latin1',
      'application/merge-patch+json',
      'application/JSON',
      'application/xml',
    ),
  },
  { weight: 1, arbitrary: printable },
);

/** Mostly a token the route accepts (so the request reaches its validation), else any other. */
const authorization = (route: Route) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(`Bearer ${TOKENS[route.roles[0] ?? 'viewer']}`) },
    { weight: 1, arbitrary: fc.constantFrom(...Object.values(TOKENS).map((t) => `Bearer ${t}`)) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'Bearer',
        'Bearer ',
        `bearer ${ADMIN_TOKEN}`,
        `Basic ${ADMIN_TOKEN}`,
        `Bearer ${BOT_TOKEN}x`,
        `Bearer ${VIEWER_TOKEN.slice(1)}`,
      ),
    },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 512 }).map((n) => `Bearer ${'a'.repeat(n)}`) },
    { weight: 1, arbitrary: printable.map((s) => `Bearer ${s}`) },
  );

function requestArb(base: string, route: Route, known: Known): fc.Arbitrary<FuzzRequest> {
  const other = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((m) => m !== route.method);
  return fc
    .record({
      method: fc.oneof(
        { weight: 9, arbitrary: fc.constant(route.method) },
        { weight: 1, arbitrary: fc.constantFrom(...other) },
      ),
      path: pathValue(route, known),
      query: queryArb,
      body: bodyArb(route, known),
      contentType,
      authorization: authorization(route),
    })
    .map((r) => {
      const headers: Record<string, string> = {};
      if (r.contentType) headers['content-type'] = r.contentType;
      if (r.authorization !== undefined) headers.authorization = r.authorization;
      const hasBody = r.body !== undefined && r.method !== 'GET';
      return { method: r.method, url: `${base}${r.path}${r.query}`, headers, body: hasBody ? r.body : undefined };
    })
    .filter((r) => {
      const text = `${r.url} ${typeof r.body === 'string' ? r.body : r.body ? Buffer.from(r.body).toString('latin1') : ''}`;
      return !MARKERS.some((m) => text.includes(m));
    });
}

// ---------------------------------------------------------------------------------------- checks

// node:http with keep-alive: a third of the CPU of fetch (undici + web streams) for 25,000 requests,
// which matters with the server in the same process.
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

interface Answer {
  status: number;
  contentType: string;
  text: string;
}

function rawRequest(r: FuzzRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // Always frame the body: node:http sends a DELETE body unframed unless content-length is set.
    const headers =
      r.body === undefined ? r.headers : { ...r.headers, 'content-length': String(Buffer.byteLength(r.body)) };
    const req = http.request(r.url, { method: r.method, headers, agent, timeout: testTime(10_000) }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          text: Buffer.concat(parts).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out after 10 s')));
    req.on('error', reject);
    req.end(r.body);
  });
}

/** The body as the server would see it: no body is {}, anything else its JSON value (or a marker). */
function sentJson(body: FuzzRequest['body']): unknown {
  const text = body === undefined ? '' : typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    return Symbol('not JSON');
  }
}

const ajv = new Ajv2020({ strict: false, validateFormats: false });

/** Validators of each route's request body, from GET /openapi.json; a POST without one takes only {}. */
function bodyContract(
  method: string,
  op: { requestBody?: { content?: Record<string, { schema?: object }> } },
): ((b: unknown) => boolean) | undefined {
  const schema = op.requestBody?.content?.['application/json']?.schema;
  if (schema) {
    const validate = ajv.compile(schema);
    return (b) => validate(b) === true;
  }
  if (method === 'POST')
    return (b) => typeof b === 'object' && b !== null && !Array.isArray(b) && Object.keys(b).length === 0;
  return undefined;
}

/** A token of one of `roles`, under a Bearer scheme spelled in any case (RFC 9110: schemes are case-insensitive). */
function carriesToken(authorization: string | undefined, roles: string[]): boolean {
  const token = /^bearer +(.*)$/i.exec((authorization ?? '').trim())?.[1];
  return roles.some((r) => TOKENS[r] === token);
}

/** Sends one request; returns what is wrong with the answer, or null. Tallies statuses. */
async function send(r: FuzzRequest, statuses: Map<number, number>, route: Route): Promise<string | null> {
  let res: Answer;
  try {
    res = await rawRequest(r);
  } catch (err) {
    return `no answer: ${(err as Error).message}`;
  }
  statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
  const text = res.text;
  if (res.status >= 500) return `${res.status}: ${text.slice(0, 300)}`;
  // A route that needs a token never does anything for a caller without one of a role it accepts.
  const sameRoute = r.method === route.method;
  // A 2xx means the server took the input as valid: it must be valid by the contract it publishes.
  if (sameRoute && route.accepts && res.status < 300 && !route.accepts(sentJson(r.body)))
    return `${res.status} for a body the published schema refuses`;
  if (route.roles.length > 0 && sameRoute && !carriesToken(r.headers.authorization, route.roles) && res.status < 300)
    return `${res.status} on a ${route.roles.join('/')} route without such a token`;
  const leak = LEAKS.find((re) => re.test(text));
  if (leak) return `${res.status} body leaks ${leak}: ${text.slice(0, 300)}`;
  if (res.status >= 400) {
    if (!/^application\/json/.test(res.contentType)) return `${res.status} with content-type ${res.contentType}`;
    let body: { error?: { code?: unknown; message?: unknown } };
    try {
      body = JSON.parse(text);
    } catch {
      return `${res.status} body is not JSON: ${text.slice(0, 200)}`;
    }
    if (typeof body.error?.code !== 'string' || typeof body.error?.message !== 'string')
      return `${res.status} body is not {error:{code,message}}: ${text.slice(0, 200)}`;
  } else if (res.status < 200 || res.status >= 300) {
    return `unexpected status ${res.status}`;
  }
  return null;
}

function describeRequest(r: FuzzRequest): string {
  const body =
    r.body === undefined ? '' : typeof r.body === 'string' ? r.body.slice(0, 200) : `<${r.body.length} bytes>`;
  return `${r.method} ${r.url.replace(/^http:\/\/[^/]+/, '')} ${JSON.stringify(r.headers)} ${body}`;
}

// ---------------------------------------------------------------------------------------- the test

test('the leak check recognises a real stack trace and a file path', () => {
  const stack = new Error('boom').stack ?? '';
  expect(LEAKS.some((re) => re.test(stack))).toBe(true);
  expect(LEAKS.some((re) => re.test('{"error":{"message":"cannot open /work/main/data/jobs.db"}}'))).toBe(true);
  expect(
    LEAKS.some((re) => re.test('{"error":{"code":"validation_failed","message":"must be at least 8 characters"}}')),
  ).toBe(false);
});

/** The fuzz tests against one server; `env` picks its database. */
function fuzzSuite(
  runs: number,
  env: () => Record<string, string>,
  cleanup: () => Promise<void> = async () => {},
): void {
  let srv: Awaited<ReturnType<typeof startInProcess>>;
  const known: Known = { jobs: [], bots: [] };
  let routes: Route[] = [];

  beforeAll(async () => {
    srv = await startInProcess({
      RATE_LIMIT_ADMIN_PER_S: '0',
      RATE_LIMIT_EMPTY_CLAIMS_PER_S: '0',
      RATE_LIMIT_AUTH_FAILURES_PER_S: '0',
      ...env(),
    });
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
    // Real ids, so that generated requests also reach the code behind "found".
    const reg = await fetch(`${srv.url}/bots/register`, {
      method: 'POST',
      headers: { ...admin, authorization: `Bearer ${BOT_TOKEN}` },
      body: JSON.stringify({ id: 'fuzz-bot-1' }),
    });
    known.bots.push(((await reg.json()) as { id: string }).id);
    const created = await fetch(`${srv.url}/jobs/populate`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ count: 3 }),
    });
    known.jobs.push(...((await created.json()) as { items: { id: string }[] }).items.map((j) => j.id));
    type Op = {
      security?: Record<string, unknown>[];
      requestBody?: { content?: Record<string, { schema?: object }> };
    };
    const doc = (await (await fetch(`${srv.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, Op>>;
    };
    routes = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.entries(ops).map(([m, op]) => ({
        method: m.toUpperCase(),
        path: p,
        roles: (op.security ?? []).flatMap((scheme) => Object.keys(scheme)),
        accepts: bodyContract(m.toUpperCase(), op),
      })),
    );
    // The document itself, and paths that are no route at all (404 JSON, never a crash).
    routes.push({ method: 'POST', path: '/no-such-route/{id}', roles: [] });
  });

  afterAll(async () => {
    await srv?.close();
    if (srv) fs.rmSync(srv.dir, { recursive: true, force: true });
    await cleanup();
  });

  test('GET /openapi.json lists the routes of docs/api.md', () => {
    const names = routes.map((r) => `${r.method} ${r.path}`);
    for (const r of [
      'POST /jobs',
      'GET /jobs',
      'GET /jobs/{id}',
      'POST /jobs/claim',
      'POST /jobs/{id}/complete',
      'POST /jobs/{id}/release',
      'POST /bots/register',
      'DELETE /bots/{id}',
      'GET /datalake/export/{date}',
      'GET /healthz',
    ]) {
      expect(names).toContain(r);
    }
    // The body contracts the fuzz holds 2xx answers to really tell valid from invalid.
    const accepts = (path: string, body: unknown) =>
      routes.find((r) => r.path === path && r.method === 'POST')!.accepts!(body);
    expect([
      accepts('/jobs/claim', { botId: 'a' }),
      accepts('/jobs/claim', { botId: 5 }),
      accepts('/queue/pause', {}),
      accepts('/queue/pause', { x: 1 }),
    ]).toEqual([true, false, true, false]);
  });

  test('a token of any length 0-512 that is no token: 401 JSON on every route that needs one', async () => {
    const admin = routes.filter((r) => r.roles.length > 0);
    expect(admin.length).toBeGreaterThanOrEqual(20);
    const wrong: string[] = [];
    const tokens = Array.from({ length: 513 }, (_, n) =>
      n === ADMIN_TOKEN.length ? ADMIN_TOKEN.slice(0, -1) + 'X' : 'x'.repeat(n),
    );
    for (let i = 0; i < tokens.length; i += CONCURRENCY) {
      await Promise.all(
        tokens.slice(i, i + CONCURRENCY).map(async (token, k) => {
          const route = admin[(i + k) % admin.length];
          const url = `${srv.url}${route.path.replace('{id}', known.jobs[0]).replace('{name}', 'builtin:populate')}`;
          const res = await rawRequest({
            method: route.method,
            url,
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: route.method === 'POST' ? '{}' : undefined,
          });
          let code: unknown;
          try {
            code = (JSON.parse(res.text) as { error?: { code?: unknown } }).error?.code;
          } catch {
            code = undefined;
          }
          if (res.status !== 401 || typeof code !== 'string')
            wrong.push(`${route.method} ${route.path} token length ${token.length}: ${res.status}`);
        }),
      );
    }
    expect(wrong.slice(0, 5)).toEqual([]);
  });

  test(`${runs} malformed requests per route: never 5xx, 4xx always JSON {error}, nothing leaked`, async () => {
    const started = Date.now();
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let sent = 0;
    for (const route of routes) {
      const reqs = fc.sample(requestArb(srv.url, route, known), { numRuns: runs, seed: SEED + routes.indexOf(route) });
      for (let i = 0; i < reqs.length; i += CONCURRENCY) {
        const batch = reqs.slice(i, i + CONCURRENCY);
        const out = await Promise.all(batch.map((r) => send(r, statuses, route)));
        out.forEach((problem, k) => {
          if (problem)
            failures.push(`${route.method} ${route.path}: ${problem}\n    request: ${describeRequest(batch[k])}`);
        });
        sent += batch.length;
      }
    }
    const tally = [...statuses]
      .sort((a, b) => a[0] - b[0])
      .map(([s, n]) => `${s}:${n}`)
      .join(' ');
    process.stderr.write(
      `fuzz ${srv.database}: ${sent} requests over ${routes.length} routes in ${Date.now() - started} ms, seed ${SEED}, ${failures.length} failures; statuses ${tally}\n`,
    );
    if (failures.length)
      throw new Error(
        `FUZZ_SEED=${SEED}: ${failures.length} bad answers, first ones:\n${failures.slice(0, 8).join('\n')}`,
      );
    // The server is still up and well.
    expect((await rawRequest({ method: 'GET', url: `${srv.url}/healthz`, headers: {} })).status).toBe(200);
    expect(sent).toBeGreaterThanOrEqual(routes.length * runs * 0.95); // the marker filter drops only a few
  });
}

afterAll(() => agent.destroy());

describe('fuzz [sqlite]', () => fuzzSuite(RUNS, () => ({})));

describePostgres('fuzz [postgres]', () => {
  const { url, schema } = freshSchemaUrl('fuzz');
  fuzzSuite(
    RUNS_PG,
    () => ({ DATABASE_URL: url }),
    () => dropSchema(schema),
  );
});
