import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import Router from '@koa/router';
import Koa from 'koa';
import pino from 'pino';
import { NotFoundError, RateLimitedError } from '../errors';
import { errorMiddleware } from './errors';
import { DEV_TOKENS, Keyring, readTokens, requireRole, tokenList, useAuth, type Role } from './auth';

describe('readTokens', () => {
  it('reads comma-separated lists, trimming spaces and dropping empty entries', () => {
    expect(tokenList(' new-token-1 ,, old-token-2 ,')).toEqual(['new-token-1', 'old-token-2']);
    const t = readTokens({ ADMIN_TOKEN: 'admin-token-a, admin-token-b', BOT_TOKEN: 'bot-token-a' }, ['admin', 'bot']);
    expect(t).toEqual({
      tokens: { admin: ['admin-token-a', 'admin-token-b'], bot: ['bot-token-a'] },
      problems: [],
      warnings: [],
    });
  });

  it('uses the development defaults when unset, with one warning per variable naming it and not the value', () => {
    const t = readTokens({ ADMIN_TOKEN: '  ,' }, ['admin', 'bot', 'viewer']);
    expect(t.tokens).toEqual({ admin: [DEV_TOKENS.admin], bot: [DEV_TOKENS.bot], viewer: [DEV_TOKENS.viewer] });
    expect(t.problems).toEqual([]);
    expect(t.warnings).toHaveLength(3);
    expect(t.warnings.map((w) => w.split(' ')[0])).toEqual(['ADMIN_TOKEN', 'BOT_TOKEN', 'VIEWER_TOKEN']);
    for (const w of t.warnings) for (const v of Object.values(DEV_TOKENS)) expect(w).not.toContain(v);
    // Set by hand to the old published admin default: still a warning.
    expect(readTokens({ ADMIN_TOKEN: 'admin-secret-token' }, ['admin']).warnings).toHaveLength(1);
  });

  it('refuses short tokens, spaces and control characters, and one token in two roles', () => {
    expect(readTokens({ BOT_TOKEN: 'short' }, ['bot']).problems).toEqual([
      'BOT_TOKEN: each token must be at least 8 characters',
    ]);
    expect(readTokens({ BOT_TOKEN: 'bot token\twith tab' }, ['bot']).problems[0]).toMatch(
      /^BOT_TOKEN: .*visible ASCII/,
    );
    expect(readTokens({ BOT_TOKEN: 'bot-tökén-1234' }, ['bot']).problems[0]).toMatch(/^BOT_TOKEN: .*visible ASCII/);
    expect(
      readTokens({ ADMIN_TOKEN: 'same-token-1', VIEWER_TOKEN: 'x-token-2,same-token-1' }, ['admin', 'viewer']).problems,
    ).toEqual(['VIEWER_TOKEN: the same token is also in ADMIN_TOKEN; each role needs its own']);
  });

  it('with NODE_ENV=production refuses unset, published default and shorter than 16 characters', () => {
    const prod = (env: NodeJS.ProcessEnv) => readTokens({ NODE_ENV: 'production', ...env }, ['admin', 'bot', 'viewer']);
    expect(prod({}).problems).toEqual([
      'ADMIN_TOKEN: must be set when NODE_ENV=production (at least 16 characters)',
      'BOT_TOKEN: must be set when NODE_ENV=production (at least 16 characters)',
      'VIEWER_TOKEN: must be set when NODE_ENV=production (at least 16 characters)',
    ]);
    const ok = { BOT_TOKEN: 'b'.repeat(16), VIEWER_TOKEN: 'v'.repeat(40) };
    expect(prod({ ...ok, ADMIN_TOKEN: DEV_TOKENS.admin }).problems).toEqual([
      'ADMIN_TOKEN: is a published default; set your own when NODE_ENV=production',
    ]);
    expect(prod({ ...ok, ADMIN_TOKEN: 'admin-secret-token' }).problems).toHaveLength(1);
    expect(prod({ ...ok, ADMIN_TOKEN: `${'a'.repeat(20)},${'c'.repeat(15)}` }).problems).toEqual([
      'ADMIN_TOKEN: each token must be at least 16 characters when NODE_ENV=production',
    ]);
    expect(prod({ ...ok, ADMIN_TOKEN: 'a'.repeat(16) })).toMatchObject({ problems: [], warnings: [] });
  });
});

describe('Keyring', () => {
  const k = new Keyring({ admin: ['admin-1-token', 'admin-2-token'], bot: ['bot-1-token'], viewer: ['viewer-token'] });

  it('knows the role of every configured token and nothing else', () => {
    expect(
      ['admin-1-token', 'admin-2-token', 'bot-1-token', 'viewer-token', 'admin-1-toke', 'admin-1-tokenX', ''].map((t) =>
        k.roleOf(t),
      ),
    ).toEqual(['admin', 'admin', 'bot', 'viewer', null, null, null]);
  });

  it('reads the Bearer scheme case-insensitively, with trailing blanks, and nothing else', () => {
    expect(k.roleOfHeader('Bearer viewer-token')).toBe('viewer');
    expect(k.roleOfHeader('bearer \t viewer-token \t')).toBe('viewer');
    for (const h of [undefined, '', 'viewer-token', 'Basic viewer-token', 'Bearer', 'Bearer ', 'Bearerviewer-token'])
      expect(k.roleOfHeader(h)).toBeNull();
  });
});

describe('requireRole', () => {
  let server: http.Server;
  let base: string;
  const lines: Record<string, unknown>[] = [];
  const failed: string[] = [];
  let blocked = false;

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(JSON.parse(String(chunk)));
        cb();
      },
    });
    const log = pino({ level: 'info' }, sink);
    const app = new Koa();
    app.use(errorMiddleware(log));
    useAuth(app, {
      keyring: new Keyring({ admin: ['admin-token-1'], bot: ['bot-token-1'], viewer: ['viewer-token-1'] }),
      log,
      failures: {
        check: () => {
          if (blocked) throw new RateLimitedError(1);
        },
        take: (client) => void failed.push(client),
      },
    });
    const router = new Router();
    for (const role of ['viewer', 'bot', 'admin'] as Role[]) {
      router.get(`/${role}`, requireRole(role), (ctx) => (ctx.body = { role: ctx.state.role }));
      router.post(`/${role}/:id`, requireRole(role), (ctx) => {
        if (ctx.params.id === 'missing') throw new NotFoundError('no such thing');
        ctx.body = { ok: true };
      });
    }
    app.use(router.routes());
    server = http.createServer(app.callback());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  const status = async (method: string, path: string, token?: string) => {
    const res = await fetch(base + path, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, body: await res.json(), www: res.headers.get('www-authenticate') };
  };

  it('answers 401 (JSON, WWW-Authenticate) without a known token, 403 to another role, and passes the rest', async () => {
    const expected: Record<string, Record<string, number>> = {
      '': { viewer: 401, bot: 401, admin: 401 },
      'wrong-token-1': { viewer: 401, bot: 401, admin: 401 },
      'viewer-token-1': { viewer: 200, bot: 403, admin: 403 },
      'bot-token-1': { viewer: 403, bot: 200, admin: 403 },
      'admin-token-1': { viewer: 200, bot: 403, admin: 200 },
    };
    for (const [token, byRoute] of Object.entries(expected)) {
      for (const [route, want] of Object.entries(byRoute)) {
        const r = await status('GET', `/${route}`, token || undefined);
        expect([token, route, r.status]).toEqual([token, route, want]);
        if (want === 401) {
          expect(r.www).toBe('Bearer');
          expect(r.body.error).toMatchObject({ code: 'unauthorized' });
        }
        if (want === 403) expect(r.body.error).toMatchObject({ code: 'forbidden' });
        if (want === 200) expect(r.body.role).toBe(token.split('-')[0]);
      }
    }
  });

  it('counts each 401 for the client, and a client over its budget gets 429 before its token is looked at', async () => {
    failed.length = 0;
    await status('GET', '/viewer', 'nope-nope-1');
    await status('GET', '/viewer');
    await status('GET', '/viewer', 'viewer-token-1');
    await status('GET', '/admin', 'viewer-token-1'); // 403: a known token, not a guess
    expect(failed).toEqual(['127.0.0.1', '127.0.0.1']);
    blocked = true;
    expect((await status('GET', '/viewer', 'viewer-token-1')).status).toBe(429);
    blocked = false;
  });

  it('logs one audit line per state-changing admin request, with its outcome, and never the token', async () => {
    lines.length = 0;
    await status('POST', '/admin/job-7', 'admin-token-1');
    await status('POST', '/admin/missing', 'admin-token-1');
    await status('GET', '/admin', 'admin-token-1'); // a read: no line
    await status('POST', '/admin/x', 'viewer-token-1'); // refused: no action
    await status('POST', '/bot/x', 'bot-token-1'); // not an admin route
    const audits = lines.filter((l) => l.msg === 'audit');
    expect(audits).toEqual([
      expect.objectContaining({
        level: 30,
        msg: 'audit',
        role: 'admin',
        client: '127.0.0.1',
        action: 'POST /admin/:id',
        target: 'job-7',
        status: 200,
      }),
      expect.objectContaining({ action: 'POST /admin/:id', target: 'missing', status: 404 }),
    ]);
    expect(JSON.stringify(lines)).not.toContain('token-1');
  });
});
