/**
 * Shared by the deploy tests (`npm run test:deploy`, scripts/test-deploy.sh): running the real
 * tools (docker, docker-compose, helm, kubectl), waiting for a condition, HTTP calls to the
 * components on 127.0.0.1, and the dashboard in real Chromium. `note()` writes what a stage showed
 * (pod lists, log lines, bot counts) straight to the run's output.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DashboardClient } from '../dashboard/test-support';
import { testTime } from './helpers/time';

export const ROOT = path.resolve(__dirname, '..');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program to its end; throws with its output unless it exits 0 (or `allowFail`). `env` adds
 * to this process's environment; a variable given as undefined is removed from it.
 */
export function run(
  program: string,
  args: readonly string[],
  opts: { env?: Record<string, string | undefined>; input?: string; allowFail?: boolean; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...opts.env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    const child = spawn(program, args, {
      cwd: ROOT,
      env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const limit = testTime(opts.timeoutMs ?? 120_000);
    const timer = setTimeout(() => child.kill('SIGKILL'), limit);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const result = { code, stdout, stderr };
      if (code === 0 || opts.allowFail) resolve(result);
      else
        reject(
          new Error(
            `${program} ${args.join(' ')} exited ${code ?? 'on a signal'}:\n${stdout.slice(-3000)}${stderr.slice(-3000)}`,
          ),
        );
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** Polls `probe` until it returns a value other than undefined/false; throws naming `what` at the limit. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 60_000,
  stepMs = 500,
): Promise<T> {
  const end = Date.now() + testTime(timeoutMs);
  let last: unknown = null;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Writes a line of what the stage showed to the run's output (not buffered by Jest's console). */
export function note(text: string): void {
  process.stdout.write(`${text.replace(/\n$/, '')}\n`);
}

export async function http<T = unknown>(
  method: string,
  url: string,
  opts: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: AbortSignal.timeout(testTime(10_000)),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

export interface BotRow {
  id: string;
  status: string;
  currentJobId: string | null;
}

/** A cookie-keeping client of the dashboard, signed in with `token` (viewer or admin). */
export async function dashboardSession(dashboardUrl: string, token: string): Promise<DashboardClient> {
  const client = new DashboardClient(dashboardUrl);
  const r = await client.signIn(token);
  if (r.status !== 303) throw new Error(`dashboard sign-in answered ${r.status}`);
  return client;
}

/** The bots the dashboard lists (its JSON for the live /bots page), without those marked down. */
export async function dashboardBots(dashboard: DashboardClient): Promise<BotRow[]> {
  const r = await dashboard.get('/api/bots', 'application/json');
  if (r.status !== 200) throw new Error(`GET /api/bots answered ${r.status}`);
  return ((await r.json()) as { rows: BotRow[] }).rows.filter((b) => b.status !== 'down');
}

/** The dashboard in headless Chromium, signed in with the admin token. */
export async function openDashboard(dashboardUrl: string, token: string): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({
    timeout: testTime(30_000),
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const page = await browser.newPage();
  page.setDefaultTimeout(testTime(30_000));
  await page.goto(`${dashboardUrl}/signin?next=/bots`);
  await page.fill('#token', token);
  await page.keyboard.press('Enter');
  await page.waitForURL(`${dashboardUrl}/bots`);
  return { browser, page };
}

/** Presses Add Bot on /bots and returns the dashboard's message. */
export async function pressAddBot(page: Page, dashboardUrl: string): Promise<string> {
  await page.goto(`${dashboardUrl}/bots`);
  await page.click('button[data-action="add-bot"]');
  await page.waitForURL(`${dashboardUrl}/bots`);
  return page.locator('[data-flash]').first().innerText();
}

/** Sets "Scale to N bots" on /bots and returns the dashboard's message. */
export async function scaleInDashboard(page: Page, dashboardUrl: string, replicas: number): Promise<string> {
  await page.goto(`${dashboardUrl}/bots`);
  await page.fill('#replicas', String(replicas));
  await page.click('form[action="/actions/scale"] button[type="submit"]');
  await page.waitForURL(`${dashboardUrl}/bots`);
  return page.locator('[data-flash]').first().innerText();
}
