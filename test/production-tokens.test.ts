/**
 * With NODE_ENV=production (the image sets it) every entry point refuses to start, exit code 1, with
 * one line per token it needs that is unset, a published default or shorter than 16 characters,
 * naming the variable and never the value; with real tokens the tokens are no problem.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './helpers/server-process';
import { testTime } from './helpers/time';

const ENTRY_POINTS: { name: string; main: string; needs: string[]; other: string }[] = [
  { name: 'server', main: 'server/main.ts', needs: ['ADMIN_TOKEN', 'BOT_TOKEN', 'VIEWER_TOKEN'], other: 'SERVER_PORT' },
  { name: 'bot', main: 'bot/main.ts', needs: ['BOT_TOKEN'], other: 'HEARTBEAT_INTERVAL_MS' },
  {
    name: 'controller',
    main: 'controller/main.ts',
    needs: ['ADMIN_TOKEN', 'BOT_TOKEN', 'VIEWER_TOKEN'],
    other: 'CONTROLLER_PORT',
  },
  { name: 'dashboard', main: 'dashboard/main.ts', needs: ['ADMIN_TOKEN', 'VIEWER_TOKEN'], other: 'DASHBOARD_PORT' },
];

const DEFAULTS: Record<string, string> = {
  ADMIN_TOKEN: 'admin-dev-token-change-me',
  BOT_TOKEN: 'bot-dev-token-change-me',
  VIEWER_TOKEN: 'viewer-dev-token-change-me',
};
/** 12 characters: enough in development (8), too short in production (16). */
const SHORT = 'short-but-ok';
const run = (main: string, env: Record<string, string>) => {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !['ADMIN_TOKEN', 'BOT_TOKEN', 'VIEWER_TOKEN'].includes(k)),
  );
  return spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, main)], {
    cwd: ROOT,
    env: { ...clean, NODE_ENV: 'production', LOG_PRETTY: 'false', ...env },
    encoding: 'utf8',
    timeout: testTime(20_000),
  });
};

describe.each(ENTRY_POINTS)('$name with NODE_ENV=production', ({ main, needs, other }) => {
  it('refuses to start on an unset, default or short token, naming each variable on its own line', () => {
    // The first token it needs is a published default, the second too short, the third unset.
    const env: Record<string, string> = { [needs[0]]: DEFAULTS[needs[0]] };
    if (needs[1]) env[needs[1]] = SHORT;
    const r = run(main, env);
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    for (const [i, v] of needs.entries()) {
      const line = lines.find((l) => l.includes(`${v}:`));
      expect([v, line]).toEqual([v, expect.any(String)]);
      const why = [/published default/, /at least 16 characters when NODE_ENV=production/, /must be set/][i];
      expect(line).toMatch(why);
    }
    expect(r.stdout + r.stderr).not.toMatch(/dev-token-change-me|short-but-o/);
  });

  it('takes tokens of 16 characters or more (the only problem left is the other bad variable)', () => {
    const env: Record<string, string> = { [other]: 'not-a-number' };
    for (const v of needs) env[v] = `${v.toLowerCase()}-0123456789abcdef`;
    const r = run(main, env);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^invalid configuration: ${other}:`)),
    ]);
    expect(r.stderr).not.toContain('0123456789abcdef');
  });
});
