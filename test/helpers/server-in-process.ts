/** Runs the whole server (runServer) inside the test process on a free port, with real files. */
import path from 'node:path';
import { type Logger, silentLogger } from '../../core/logger';
import { loadServerConfig } from '../../server/config';
import { type RunningServer, runServer } from '../../server/runtime';
import { ADMIN_TOKEN, BOT_TOKEN, TOKENS_ENV, VIEWER_TOKEN, tempDir } from './server-process';

export async function startInProcess(
  env: Record<string, string> = {},
  log: Logger = silentLogger(),
): Promise<RunningServer & { dir: string }> {
  const dir = tempDir('botfleet-api-');
  const config = loadServerConfig({
    SERVER_PORT: '0',
    SERVER_HOST: '127.0.0.1',
    DATABASE_URL: `sqlite://${path.join(dir, 'jobs.db')}`,
    DATALAKE_DIR: path.join(dir, 'datalake'),
    ...TOKENS_ENV,
    POPULATE_INTERVAL_MS: '0',
    LOG_LEVEL: 'silent',
    ...env,
  });
  const s = await runServer(config, log);
  return { ...s, dir };
}

export const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
export const botHeaders = { authorization: `Bearer ${BOT_TOKEN}`, 'content-type': 'application/json' };
export const viewerHeaders = { authorization: `Bearer ${VIEWER_TOKEN}` };
/** No token: a stranger. */
export const jsonHeaders = { 'content-type': 'application/json' };

/** One request; without headers a GET goes with the viewer token and anything else with the bot token. */
export async function call(
  base: string,
  method: string,
  p: string,
  body?: unknown,
  headers: Record<string, string> = method === 'GET' ? viewerHeaders : botHeaders,
) {
  const res = await fetch(`${base}${p}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, json: json as any, text, headers: res.headers }; // eslint-disable-line @typescript-eslint/no-explicit-any
}
