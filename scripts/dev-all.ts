/**
 * `npm run dev:all` (and `npm run demo` = `--demo`): the whole system in one terminal. Starts the
 * server, waits for its /healthz, then the dashboard, the controller and the bots: the controller
 * runs them itself (its process driver, so "Add Bot" works) or, with DEV_ALL_BOTS=self, this script
 * starts BOT_REPLICAS bots (bot-1, bot-2, ...). Each output line is prefixed with its process name.
 * Ctrl-C / SIGTERM: SIGTERM to every child's process group, wait, SIGKILL what is left, so no
 * process (not even a bot the controller started) stays behind, also when the reader of this
 * script's output (`| tee log`) was stopped by the same Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { SERVER_NODE_FLAGS } from '../server/node-flags';
import path from 'node:path';
import readline from 'node:readline';
import { z } from 'zod';
import { envInt, envString, handleHelp, loadOrExit, parseEnv } from '../core/config';

const HELP = `npm run dev:all [-- --demo]      (node --import tsx scripts/dev-all.ts)
npm run demo                     (the same with --demo)

Starts server, dashboard, controller and the bots in one terminal; output is prefixed per process. Ctrl-C stops everything (twice: kill at once).

--demo sets, unless already set: POPULATE_INTERVAL_MS=10000 BATCH_SIZE=5 PROCESSING_DURATION_MS=3000
       HEARTBEAT_INTERVAL_MS=5000 BOT_DOWN_AFTER_MS=20000: a batch every 10 s, 3 s jobs.

Environment (defaults in brackets); everything else is passed on to the processes:
  SERVER_PORT / CONTROLLER_PORT   ports, used to derive SERVER_URL and CONTROLLER_URL [3001 / 3003]
  BOT_REPLICAS                    bots to run [3]
  DEV_ALL_STOP_TIMEOUT_MS         wait after SIGTERM before SIGKILL [30000]
  DEV_ALL_BOTS                    auto: the controller runs the bots;
                                  self: this script starts them (bot-1..bot-N) [auto]
  DEV_ALL_PRETTY                  format JSON log lines: true|false [true when stdout is a terminal]
`;

const DEMO_DEFAULTS: Record<string, string> = {
  POPULATE_INTERVAL_MS: '10000',
  PROCESSING_DURATION_MS: '3000',
  BATCH_SIZE: '5',
  HEARTBEAT_INTERVAL_MS: '5000',
  BOT_DOWN_AFTER_MS: '20000',
};

const ROOT = path.resolve(__dirname, '..');
// Process groups let a stop reach grandchildren (the controller's bots); Windows has none.
const USE_GROUPS = process.platform !== 'win32';

handleHelp(process.argv.slice(2), HELP);
const demo = process.argv.includes('--demo');
const cfg = loadOrExit(() =>
  parseEnv(
    z.object({
      SERVER_PORT: envInt(3001, 1, 65535),
      CONTROLLER_PORT: envInt(3003, 1, 65535),
      BOT_REPLICAS: envInt(3, 0, 50),
      DEV_ALL_STOP_TIMEOUT_MS: envInt(30000, 0, 600_000),
      DEV_ALL_BOTS: envString('auto').pipe(z.enum(['auto', 'self'])),
      DEV_ALL_PRETTY: envString(process.stdout.isTTY ? 'true' : 'false').pipe(z.enum(['true', 'false'])),
    }),
    process.env,
  ),
);
const pretty = cfg.DEV_ALL_PRETTY === 'true';
const color = process.stdout.isTTY === true;

const childEnv: NodeJS.ProcessEnv = {
  ...(demo ? DEMO_DEFAULTS : {}),
  ...process.env,
  SERVER_URL: process.env.SERVER_URL || `http://127.0.0.1:${cfg.SERVER_PORT}`,
  CONTROLLER_URL: process.env.CONTROLLER_URL || `http://127.0.0.1:${cfg.CONTROLLER_PORT}`,
  BOT_REPLICAS: String(cfg.BOT_REPLICAS),
  // Our children write to pipes; JSON lines are formatted here instead.
  LOG_PRETTY: 'false',
};

interface Child {
  name: string;
  proc: ChildProcess;
  exited: boolean;
}
const children: Child[] = [];
const COLORS = [36, 35, 33, 32, 34, 91, 92, 93, 94, 95, 96];
let stopping = false;

// Ctrl-C also stops whatever reads this output (`npm run dev:all | tee log`): writing to that closed
// pipe must not end this script before it has stopped every child. Lines are dropped from then on.
process.stdout.on('error', () => undefined);
function write(text: string): void {
  if (process.stdout.writable) process.stdout.write(text);
}

function say(line: string): void {
  write(`${tag('dev-all', 0)} ${line}\n`);
}

function tag(name: string, i: number): string {
  const t = `[${name}]`.padEnd(13);
  return color ? `\x1b[${COLORS[i % COLORS.length]}m${t}\x1b[0m` : t;
}

/**
 * Turns a pino JSON line into "HH:MM:SS LEVEL msg key=value ..."; other lines pass unchanged. A
 * "name | {json}" line (the controller relaying a bot) keeps its "name | " part.
 */
function format(line: string): string {
  const m = pretty ? /^([\w.:@-]+ \| )?(\{.*\})$/.exec(line) : null;
  if (!m) return line;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(m[2]) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { level, time, msg, name: _n, pid: _p, hostname: _h, ...rest } = o;
  const lv =
    ({ 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' } as Record<string, string>)[
      String(level)
    ] ?? String(level);
  const at =
    typeof time === 'string'
      ? time.slice(11, 19)
      : typeof time === 'number'
        ? new Date(time).toISOString().slice(11, 19)
        : '';
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return (m[1] ?? '') + [at, lv.padEnd(5), msg, ...fields].filter((s) => s !== '' && s !== undefined).join(' ');
}

function start(name: string, script: string, env: NodeJS.ProcessEnv = {}, nodeFlags: readonly string[] = []): Child {
  const proc = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', script], {
    cwd: ROOT,
    env: { ...childEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: USE_GROUPS,
  });
  const child: Child = { name, proc, exited: false };
  const prefix = tag(name, children.length + 1);
  children.push(child);
  for (const stream of [proc.stdout!, proc.stderr!]) {
    readline.createInterface({ input: stream }).on('line', (l) => write(`${prefix} ${format(l)}\n`));
  }
  proc.on('error', (err) => say(`${name} could not start: ${err.message}`));
  proc.on('exit', (code, signal) => {
    child.exited = true;
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (stopping) say(`${name} stopped (${how})`);
    else say(`${name} (pid ${proc.pid}) exited unexpectedly (${how})`);
  });
  say(`started ${name} (pid ${proc.pid})`);
  return child;
}

/** Sends a signal to a child and everything it started. */
function signalChild(c: Child, signal: NodeJS.Signals): void {
  if (!c.proc.pid) return;
  try {
    if (USE_GROUPS) process.kill(-c.proc.pid, signal);
    else if (!c.exited) c.proc.kill(signal);
  } catch {
    /* already gone */
  }
}

/** True while the child, or anything left in its process group, is alive. */
function alive(c: Child): boolean {
  if (!c.proc.pid) return false;
  if (!USE_GROUPS) return !c.exited;
  try {
    process.kill(-c.proc.pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntilGone(group: Child[], deadline: number): Promise<void> {
  while (group.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

async function stopAll(reason: string, exitCode: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  const deadline = Date.now() + cfg.DEV_ALL_STOP_TIMEOUT_MS;
  // Everything else first, the server last: bots finishing their job on SIGTERM still need it to
  // report the result.
  const [server, ...rest] = children;
  say(
    `stopping (${reason}); SIGTERM to ${
      rest
        .filter(alive)
        .map((c) => c.name)
        .join(', ') || 'nothing'
    }, then the server`,
  );
  for (const c of rest) signalChild(c, 'SIGTERM');
  await waitUntilGone(rest, deadline);
  if (server) signalChild(server, 'SIGTERM');
  await waitUntilGone(children, deadline);
  const left = children.filter(alive);
  if (left.length > 0) {
    say(`SIGKILL to ${left.map((c) => c.name).join(', ')} after ${cfg.DEV_ALL_STOP_TIMEOUT_MS} ms`);
    for (const c of left) signalChild(c, 'SIGKILL');
    while (children.some(alive)) await new Promise((r) => setTimeout(r, 50));
  }
  say('all processes stopped');
  process.exit(exitCode);
}

let signals = 0;
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(s, () => {
    signals++;
    if (signals === 1) void stopAll(`${s} received`, 0);
    else {
      say(`${s} again: SIGKILL to everything`);
      for (const c of children) signalChild(c, 'SIGKILL');
    }
  });
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

async function waitForServer(server: Child, url: string): Promise<boolean> {
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline && !stopping) {
    if (server.exited) return false;
    if (await answers(`${url}/healthz`)) return !server.exited;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

async function main(): Promise<void> {
  // Our server would die with EADDRINUSE while the health check happily found the other one.
  if (await answers(`${childEnv.SERVER_URL}/healthz`)) {
    say(`something already answers at ${childEnv.SERVER_URL} (another dev:all?); stop it or set SERVER_PORT`);
    process.exit(1);
  }
  if (demo)
    say(
      `demo mode: ${Object.entries(DEMO_DEFAULTS)
        .map(([k, v]) => `${k}=${childEnv[k] ?? v}`)
        .join(' ')}`,
    );
  const server = start('server', 'server/main.ts', {}, SERVER_NODE_FLAGS); // as `npm run server` and the image run it
  if (!(await waitForServer(server, childEnv.SERVER_URL!))) {
    await stopAll('the server did not become healthy', 1);
    return;
  }
  say(`server healthy at ${childEnv.SERVER_URL}`);
  start('dashboard', 'dashboard/main.ts');
  const controllerRunsBots = cfg.DEV_ALL_BOTS === 'auto';
  if (controllerRunsBots) say(`the controller runs the bots (BOT_REPLICAS=${cfg.BOT_REPLICAS}, process driver)`);
  // With DEV_ALL_BOTS=self the controller still serves the dashboard, but owns no bots.
  start('controller', 'controller/main.ts', {
    SCALE_DRIVER: process.env.SCALE_DRIVER || 'process',
    ...(controllerRunsBots ? {} : { BOT_REPLICAS: '0' }),
  });
  if (!controllerRunsBots) {
    for (let i = 1; i <= cfg.BOT_REPLICAS; i++) start(`bot-${i}`, 'bot/main.ts', { BOT_ID: `bot-${i}` });
  }
}

void main();
