/**
 * The dashboard in real headless Chromium against the real server and a real controller (process
 * driver, so "Add Bot" starts a real bot process): sign in, add a bot, see it appear on /bots
 * without a reload, populate jobs, watch one finish on its own page, and save a screenshot of the
 * overview to artifacts/overview.png. Any console error (a CSP violation, a failed Alpine
 * expression) fails the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import {
  ADMIN_TOKEN,
  TOKENS_ENV,
  VIEWER_TOKEN,
  ROOT,
  freePort,
  startServer,
  tempDir,
  waitFor,
  type ServerProcess,
} from './helpers/server-process';
import { startDashboard, type RunningDashboard } from '../dashboard/test-support';
import { startBot } from '../bot/testing/bot-process';
import { testTime } from './helpers/time';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'artifacts');

let server: ServerProcess;
let controller: ChildProcess;
let controllerOut = '';
let dash: RunningDashboard;
let controllerUrl: string;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];

async function startController(serverUrl: string): Promise<string> {
  const port = await freePort();
  const dir = tempDir('botfleet-dash-controller-');
  controller = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'controller', 'main.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      CONTROLLER_PORT: String(port),
      CONTROLLER_HOST: '127.0.0.1',
      SERVER_URL: serverUrl,
      ...TOKENS_ENV,
      BOT_REPLICAS: '0',
      SCALE_DRIVER: 'process',
      CONTROLLER_STATE_FILE: path.join(dir, 'state.json'),
      RECONCILE_INTERVAL_MS: '200',
      LOG_LEVEL: 'warn',
      LOG_PRETTY: 'false',
      // Inherited by the bots the controller starts: quick jobs that always succeed.
      PROCESSING_DURATION_MS: '300',
      FAILURE_RATE: '0',
      HEARTBEAT_INTERVAL_MS: '500',
      CLAIM_WAIT_MS: '1000',
      BOT_STOP_GRACE_MS: '3000',
    },
  });
  controller.stdout!.on('data', (d) => (controllerOut += d));
  controller.stderr!.on('data', (d) => (controllerOut += d));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (controller.exitCode !== null) throw new Error(`controller exited:\n${controllerOut}`);
    return (await fetch(`${url}/healthz`)).ok;
  }, 30_000).catch((e) => {
    throw new Error(`${(e as Error).message}\n${controllerOut}`);
  });
  return url;
}

async function stopController(): Promise<void> {
  if (!controller || controller.exitCode !== null || controller.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => controller.kill('SIGKILL'), testTime(10_000));
    controller.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    controller.kill('SIGTERM'); // stops the bots it started, then exits
  });
}

beforeAll(async () => {
  server = await startServer({ env: { SWEEP_INTERVAL_MS: '500' } });
  controllerUrl = await startController(server.url);
  dash = await startDashboard({
    SERVER_URL: server.url,
    CONTROLLER_URL: controllerUrl,
    ...TOKENS_ENV,
    DASHBOARD_REFRESH_MS: '500',
  });
  browser = await chromium.launch({
    timeout: testTime(30_000),
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.setDefaultTimeout(testTime(30_000)); // clicks and navigations, scaled like every wait here
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
}, testTime(90_000));

afterAll(async () => {
  await browser?.close();
  await dash?.close();
  await stopController();
  await server?.stop();
}, testTime(30_000));

const text = (selector: string) => page.locator(selector).first().innerText();

// Debian's chromium is installed by .ci/run; under CI=true it must be there, elsewhere the test
// skips with one line (apt-get install chromium to run it).
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
if (!HAVE_CHROMIUM && process.env.CI !== 'true')
  console.log(`skipping the browser test: no ${CHROMIUM} (apt-get install chromium)`);
const itWithBrowser = HAVE_CHROMIUM || process.env.CI === 'true' ? it : it.skip;

itWithBrowser(
  'signs in, adds a bot, sees it live on /bots, follows a job and screenshots the overview',
  async () => {
    // Sign in with the keyboard: the first Tab reaches the skip link.
    await page.goto(`${dash.url}/signin?next=/`);
    await page.fill('#token', ADMIN_TOKEN);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${dash.url}/`);
    expect(await text('[data-flash]')).toBe('Signed in.');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');

    // The controller is up: its numbers show, no "unreachable".
    expect(await page.locator('[data-controller-error]').isHidden()).toBe(true);
    expect(await text('[data-controller="desired"]')).toBe('0');

    // Open /bots first, then Add Bot from there: the new bot must appear by the live refresh alone.
    await page.goto(`${dash.url}/bots`);
    expect(await page.locator('tr[data-bot-id]').count()).toBe(0);
    await page.click('button[data-action="add-bot"]');
    await page.waitForURL(`${dash.url}/bots`);
    expect(await text('[data-flash]')).toMatch(/^Added a bot: the controller now wants 1/);
    const reloads: string[] = [];
    page.on('framenavigated', (f) => reloads.push(f.url()));
    await page
      .locator('tr[data-bot-id]')
      .first()
      .waitFor({ timeout: testTime(30_000) });
    expect(reloads).toEqual([]); // it came in by the live refresh, not a reload
    const botId = await page.locator('tr[data-bot-id]').first().getAttribute('data-bot-id');
    expect(botId).toBeTruthy();
    await page.waitForFunction(
      () => document.querySelector('[data-controller="current"]')?.textContent === '1',
      undefined,
      { timeout: testTime(15_000) },
    );

    // Populate a batch from the overview; the bot works through it.
    await page.goto(`${dash.url}/`);
    await page.fill('#populate-count', '3');
    await page.click('form[action="/actions/populate"] button[type="submit"]');
    await page.waitForURL(`${dash.url}/`);
    expect(await text('[data-flash]')).toBe('Created 3 jobs.');

    // Open a job's page from the list and watch it finish there without reloading.
    await page.goto(`${dash.url}/jobs?type=simulated`);
    const firstJob = page.locator('table a[href^="/jobs/"]').first();
    await firstJob.waitFor();
    const jobHref = await firstJob.getAttribute('href');
    await firstJob.click();
    await page.waitForURL(`${dash.url}${jobHref}`);
    expect(await text('[data-payload]')).toContain('{');
    await page.waitForFunction(
      () => document.querySelector('[data-job-status]')?.textContent === 'completed',
      undefined,
      { timeout: testTime(30_000) },
    );
    expect(await page.locator('[data-events] li').count()).toBeGreaterThanOrEqual(4);
    expect(await page.locator(`[data-events] a[href="/bots/${botId}"]`).count()).toBeGreaterThan(0);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'job.png'), fullPage: true });

    // The bot's page lists the job it ran.
    await page.goto(`${dash.url}/bots/${botId}`);
    await page
      .locator(`table a[href="${jobHref}"]`)
      .first()
      .waitFor({ timeout: testTime(10_000) });
    await page.screenshot({ path: path.join(ARTIFACTS, 'bot.png'), fullPage: true });

    // Overview: counts and chart update by themselves once all three are done.
    await page.goto(`${dash.url}/`);
    await page.waitForFunction(
      () => document.querySelector('[data-count="completed"]')?.textContent === '3',
      undefined,
      { timeout: testTime(30_000) },
    );
    await page.waitForFunction(() => document.querySelectorAll('svg[data-chart] rect').length > 0);
    expect(await text('[data-success-rate]')).toBe('100.0 %');
    expect(await text('[data-bots="total"]')).toBe('1');
    await page.screenshot({ path: path.join(ARTIFACTS, 'overview.png'), fullPage: true });

    // The datalake page: its day rows come from the x-for template, filled by Alpine.
    await page.goto(`${dash.url}/datalake`);
    await page.waitForFunction(() => document.querySelector('[data-total-results]')?.textContent === '3', undefined, {
      timeout: testTime(30_000),
    });
    expect(await page.locator('tbody tr:not([data-ssr]) a[download]').count()).toBe(1);

    // Phone width: nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${dash.url}/`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'overview-phone.png'), fullPage: true });

    // Autoscale settings and scale-to-N reach the real controller.
    await page.setViewportSize({ width: 1280, height: 1000 });
    await page.goto(`${dash.url}/bots`);
    await page.fill('input[name="min"]', '0');
    await page.fill('input[name="max"]', '4');
    await page.fill('input[name="jobsPerBot"]', '7');
    await page.click('form[action="/actions/autoscale"] button[type="submit"]');
    await page.waitForURL(`${dash.url}/bots`);
    expect(await text('[data-flash]')).toBe('Autoscale off.');
    const scale = await (
      await fetch(`${controllerUrl}/scale`, { headers: { authorization: `Bearer ${VIEWER_TOKEN}` } })
    ).json();
    expect(scale.autoscale).toEqual({ enabled: false, min: 0, max: 4, jobsPerBot: 7 });
    await page.fill('#replicas', '0');
    await page.click('form[action="/actions/scale"] button[type="submit"]');
    await page.waitForURL(`${dash.url}/bots`);
    expect(await text('[data-flash]')).toMatch(/^Scaling to 0 bots/);
    await page.waitForFunction(
      () => document.querySelector('[data-controller="current"]')?.textContent === '0',
      undefined,
      { timeout: testTime(20_000) },
    );

    expect(consoleErrors).toEqual([]);
    expect(fs.statSync(path.join(ARTIFACTS, 'overview.png')).size).toBeGreaterThan(10_000);
  },
  testTime(120_000),
);

itWithBrowser(
  'creates a schedule every 2 s after previewing its firings, sees its job appear, and disables it',
  async () => {
    await page.goto(`${dash.url}/signin?next=/schedules`);
    await page.fill('#token', ADMIN_TOKEN);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${dash.url}/schedules`);
    // The seed's batch is listed, read-only (POPULATE_INTERVAL_MS is 0 here: disabled).
    const builtin = page.locator('tr[data-schedule="builtin:populate"]');
    await builtin.waitFor();
    expect(await builtin.locator('[data-next-run]').innerText()).toBe('disabled');
    expect(await builtin.locator('button[data-toggle]').isHidden()).toBe(true);

    // The preview follows the typing: a bad cron says why, a good one lists its next 5 firings.
    await page.fill('#schedule-name', 'browser-every-2s');
    await page.fill('#schedule-cron', '61 * * * *');
    await page.locator('[data-preview-error]').waitFor({ state: 'visible' });
    expect(await text('[data-preview-error]')).toMatch(/^cron: .*minute/);
    expect(await page.locator('[data-preview-runs] li').count()).toBe(0);
    await page.fill('#schedule-cron', '*/2 * * * * *');
    await page.fill('#schedule-timezone', 'Europe/Berlin');
    await page.waitForFunction(() => document.querySelectorAll('[data-preview-runs] li').length === 5);
    expect(await page.locator('[data-preview-error]').isHidden()).toBe(true);
    expect(await text('[data-preview-words]')).toBe('(Every 2 seconds)');
    // Each firing in the schedule's own zone, then in UTC.
    const runs = await page.locator('[data-preview-runs] li').allInnerTexts();
    for (const r of runs) expect(r).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d Europe\/Berlin · .* UTC$/);
    const utc = runs.map((r) => Date.parse(r.split(' · ')[1].replace(' UTC', 'Z').replace(' ', 'T')));
    expect(utc.map((t) => t - utc[0])).toEqual([0, 2000, 4000, 6000, 8000]);
    await page.fill('#schedule-type', 'fib');
    await page.fill('#schedule-payload', '{"n": 10}');
    await page.click('form[action="/actions/schedules"] button[type="submit"]');
    await page.waitForURL(`${dash.url}/schedules`);
    expect(await text('[data-flash]')).toMatch(/^Schedule browser-every-2s created: next run /);

    // Its first job shows up in the row by the live refresh, without a reload.
    const reloads: string[] = [];
    page.on('framenavigated', (f) => reloads.push(f.url()));
    const row = page.locator('tr[data-schedule="browser-every-2s"]:not([data-ssr])');
    expect(await row.locator('[data-words]').innerText()).toBe('Every 2 seconds');
    expect(await row.locator('[data-cron]').innerText()).toBe('*/2 * * * * *');
    expect(await row.locator('[data-timezone]').innerText()).toBe('Europe/Berlin');
    const lastJob = row.locator('a[data-last-job]');
    await lastJob.waitFor({ state: 'visible', timeout: testTime(20_000) });
    expect(reloads).toEqual([]);
    const jobHref = await lastJob.getAttribute('href');
    await lastJob.click();
    await page.waitForURL(`${dash.url}${jobHref}`);
    expect(await text('[data-job-schedule]')).toBe('browser-every-2s');
    expect(await text('[data-payload]')).toContain('"n": 10');
    await page.screenshot({ path: path.join(ARTIFACTS, 'scheduled-job.png'), fullPage: true });

    // The switch turns it off: no next run any more.
    await page.goto(`${dash.url}/schedules`);
    await page.click('tr[data-schedule="browser-every-2s"]:not([data-ssr]) button[data-toggle]');
    await page.waitForURL(`${dash.url}/schedules`);
    expect(await text('[data-flash]')).toBe('Schedule browser-every-2s disabled.');
    const off = page.locator('tr[data-schedule="browser-every-2s"]:not([data-ssr])');
    expect(await off.locator('[data-next-run]').innerText()).toBe('disabled');
    expect(await off.locator('button[data-toggle]').innerText()).toBe('Enable');
    await page.screenshot({ path: path.join(ARTIFACTS, 'schedules.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
  },
  testTime(60_000),
);

itWithBrowser(
  'watches a running job: its progress bar moves on the bots page and the job page, its log grows, Cancel stops it; bulk cancel and retry ask first with the count',
  async () => {
    await page.goto(`${dash.url}/signin?next=/bots`);
    await page.fill('#token', ADMIN_TOKEN);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${dash.url}/bots`);
    const bot = startBot(server.url, 'watched-bot', { HEARTBEAT_INTERVAL_MS: '500' });
    try {
      await bot.waitForEvent('registered');
      const res = await fetch(`${server.url}/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
        body: JSON.stringify({ type: 'simulated', payload: { durationMs: 40_000 } }),
      });
      const job = (await res.json()) as { id: string };

      // The bots page: the bot's row shows its job's progress once the first tenth is done.
      const row = page.locator('tr[data-bot-id="watched-bot"]:not([data-ssr])');
      await row.locator('[data-bot-progress]').waitFor({ state: 'visible', timeout: testTime(30_000) });
      expect(await row.locator('[data-bot-progress]').innerText()).toMatch(/^\d+% · step \d+ of 10$/);

      // The job page: the bar moves and the log grows, without a reload.
      await page.goto(`${dash.url}/jobs/${job.id}`);
      const reloads: string[] = [];
      page.on('framenavigated', (f) => reloads.push(f.url()));
      const value = () => page.locator('[data-progress]').evaluate((el) => (el as HTMLProgressElement).value);
      await page.locator('[data-progress]').waitFor({ state: 'visible' });
      const first = await value();
      // The log is read after the page loads: wait for its first lines, then for more.
      await page
        .locator('[data-log-line]')
        .first()
        .waitFor({ timeout: testTime(15_000) });
      const linesBefore = await page.locator('[data-log-line]').count();
      expect(await page.locator('[data-log-line]').first().innerText()).toContain('simulating 40000 ms of work');
      await page.waitForFunction(
        (v) => (document.querySelector('[data-progress]') as HTMLProgressElement).value > v,
        first,
        { timeout: testTime(30_000) },
      );
      await page.waitForFunction((n) => document.querySelectorAll('[data-log-line]').length > n, linesBefore, {
        timeout: testTime(30_000),
      });
      expect(await text('[data-progress-text]')).toMatch(/^\d+% · step \d+ of 10$/);
      expect(reloads).toEqual([]);
      await page.screenshot({ path: path.join(ARTIFACTS, 'running-job.png'), fullPage: true });

      // Cancel from the job page: cancelled at once, and the bot stops the handler.
      await page.click(`form[action="/actions/jobs/${job.id}/cancel"] button[type="submit"]`);
      await page.waitForURL(`${dash.url}/jobs/${job.id}`);
      expect(await text('[data-flash]')).toBe(`Job ${job.id} is cancelled.`);
      expect(await text('[data-job-status]')).toBe('cancelled');
      await bot.waitForEvent('stopped by server', (l) => l.jobId === job.id);
    } finally {
      await bot.signal('SIGTERM');
    }

    // Bulk actions on the jobs list: the confirmation states how many jobs.
    await fetch(`${server.url}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ jobs: [1, 2, 3].map((n) => ({ type: 'bulkdemo', payload: { n } })) }),
    });
    await page.goto(`${dash.url}/jobs?type=bulkdemo`);
    expect(await text('[data-bulk-cancel]')).toBe('Cancel all 3 shown');
    expect(await page.locator('[data-bulk-retry]').isDisabled()).toBe(true);
    const asked: string[] = [];
    page.on('dialog', (dialog) => {
      asked.push(dialog.message());
      void dialog.accept();
    });
    await page.click('[data-bulk-cancel]');
    await page.waitForURL(`${dash.url}/jobs?type=bulkdemo`);
    expect(await text('[data-flash]')).toBe('Cancelled 3 jobs.');
    expect(await text('[data-bulk-retry]')).toBe('Retry all 3 shown');
    await page.click('[data-bulk-retry]');
    await page.waitForURL(`${dash.url}/jobs?type=bulkdemo`);
    expect(await text('[data-flash]')).toBe('Retried 3 jobs.');
    expect(asked).toEqual([
      'Cancel 3 jobs (every pending, claimed or running job shown)? Running ones stop at once.',
      'Retry 3 jobs (every failed or cancelled job shown)?',
    ]);
    expect(consoleErrors).toEqual([]);
  },
  testTime(120_000),
);
