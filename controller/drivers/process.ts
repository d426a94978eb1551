/**
 * The `process` driver: bots as child processes of the controller, for dev and docker compose.
 * Each child gets BOT_ID `<prefix>-<n>` (the lowest free n, so ids stay stable across restarts),
 * SERVER_URL and BOT_TOKEN on top of the controller's environment (without its other tokens); its output lines are copied to the
 * controller's stdout prefixed with the bot id. A child that dies is restarted with exponential
 * backoff. Scale-down stops idle bots first (asking the server who is busy) with SIGTERM, then
 * SIGKILL after a grace period. A bot stopped on purpose is then removed from the server's
 * registry (DELETE /bots/:id), so the fleet shows the bots that run and "down" keeps meaning a
 * bot that died.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import type { Writable } from 'node:stream';
import type { Logger } from '../../core/logger';
import type { ObservedState } from '../reconcile';
import type { BotActivity, ServerClient } from '../server-client';
import { chooseBotsToStop } from './drain-order';
import { DrainUnknownError, type ScaleDriver } from './driver';

export interface ProcessDriverOptions {
  /** argv of one bot; a leading "node" runs the controller's own Node binary. */
  command: readonly string[];
  cwd: string;
  env: Readonly<Record<string, string>>;
  idPrefix: string;
  serverUrl: string;
  /** Given to every bot as BOT_TOKEN. */
  botToken: string;
  server: ServerClient;
  logger: Logger;
  stopGraceMs: number;
  restartBackoffMs: number;
  restartBackoffMaxMs: number;
  /** Where prefixed child output goes (default: process.stdout). */
  output?: Writable;
}

interface ManagedBot {
  id: string;
  n: number;
  child: ChildProcess | null;
  startedAt: number;
  /** Consecutive quick deaths; drives the restart backoff. */
  crashes: number;
  restartTimer: NodeJS.Timeout | null;
  /** Resolves when the current child has exited (immediately when there is none). */
  exited: Promise<void>;
  /** Set by stopBot: resolves once the child has exited and the server has forgotten the bot. */
  stopped: Promise<void> | null;
}

export class ProcessDriver implements ScaleDriver {
  readonly name = 'process' as const;
  /** Bots the driver is meant to run, by id. */
  private readonly bots = new Map<string, ManagedBot>();
  /** Bots being stopped; their ids are not reused until they have exited. */
  private readonly stopping = new Map<string, ManagedBot>();
  private shuttingDown = false;

  constructor(private readonly opts: ProcessDriverOptions) {}

  /** Ids of the bots the driver runs, lowest number first. */
  botIds(): string[] {
    return [...this.bots.values()].sort((a, b) => a.n - b.n).map((b) => b.id);
  }

  /** The pid of a running bot, for tests and diagnostics. */
  pidOf(id: string): number | undefined {
    return this.bots.get(id)?.child?.pid;
  }

  async observe(): Promise<ObservedState> {
    const current = this.bots.size;
    let activity: BotActivity[] = [];
    try {
      activity = await this.opts.server.listBots();
    } catch {
      // A bot that cannot reach the server cannot work: without the server none is ready.
      return { current, ready: 0 };
    }
    const up = new Set(activity.filter((a) => a.status !== 'down').map((a) => a.id));
    let ready = 0;
    for (const b of this.bots.values())
      if (b.child && b.child.exitCode === null && b.child.signalCode === null && up.has(b.id)) ready++;
    return { current, ready };
  }

  async scale(_from: number, to: number): Promise<void> {
    if (this.shuttingDown) return;
    if (to > this.bots.size) {
      while (this.bots.size < to) this.startNew();
      return;
    }
    const surplus = this.bots.size - to;
    if (surplus <= 0) return;
    let activity: BotActivity[];
    try {
      activity = await this.opts.server.listBots();
    } catch (err) {
      throw new DrainUnknownError((err as Error).message);
    }
    // Highest numbers first when otherwise equal, so the remaining ids stay 1..n.
    const candidates = [...this.bots.values()].sort((a, b) => b.n - a.n).map((b) => b.id);
    const chosen = chooseBotsToStop(candidates, new Map(activity.map((a) => [a.id, a])), surplus);
    for (const id of chosen) {
      const bot = this.bots.get(id)!;
      this.bots.delete(id);
      const a = activity.find((x) => x.id === id);
      this.opts.logger.info(
        { botId: id, serverStatus: a?.status ?? 'unknown', currentJobId: a?.currentJobId ?? null },
        'stopping bot',
      );
      this.stopBot(bot);
    }
  }

  /** Stops every child: SIGTERM, then SIGKILL after the grace period; resolves when all have exited. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const bot of [...this.bots.values()]) {
      this.bots.delete(bot.id);
      this.stopBot(bot);
    }
    await Promise.all([...this.stopping.values()].map((b) => b.stopped));
  }

  private startNew(): void {
    let n = 1;
    while (this.bots.has(this.idFor(n)) || this.stopping.has(this.idFor(n))) n++;
    const bot: ManagedBot = {
      id: this.idFor(n),
      n,
      child: null,
      startedAt: 0,
      crashes: 0,
      restartTimer: null,
      exited: Promise.resolve(),
      stopped: null,
    };
    this.bots.set(bot.id, bot);
    this.spawnChild(bot);
  }

  private idFor(n: number): string {
    return `${this.opts.idPrefix}-${n}`;
  }

  private spawnChild(bot: ManagedBot): void {
    const [program, ...args] = this.opts.command;
    const file = program === 'node' ? process.execPath : program;
    const env = { ...this.opts.env, BOT_ID: bot.id, SERVER_URL: this.opts.serverUrl, BOT_TOKEN: this.opts.botToken };
    let child: ChildProcess;
    try {
      child = spawn(file, args, { cwd: this.opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      // spawn throws synchronously only for bad arguments; treat it like a crash so backoff applies.
      this.opts.logger.error({ botId: bot.id, err: (err as Error).message }, 'cannot start bot');
      this.onExit(bot, null, null);
      return;
    }
    bot.child = child;
    bot.startedAt = Date.now();
    this.pipeLines(bot.id, child);
    let resolveExited!: () => void;
    bot.exited = new Promise<void>((r) => (resolveExited = r));
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (done) return;
      done = true;
      resolveExited();
      this.onExit(bot, code, signal);
    };
    child.once('exit', finish);
    child.once('error', (err) => {
      this.opts.logger.error({ botId: bot.id, err: err.message }, 'bot process error');
      // 'exit' does not follow an 'error' raised because the program could not be started.
      if (child.pid === undefined) finish(null, null);
    });
    if (child.pid !== undefined) this.opts.logger.info({ botId: bot.id, pid: child.pid }, 'bot started');
  }

  private pipeLines(id: string, child: ChildProcess): void {
    const out = this.opts.output ?? process.stdout;
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      readline
        .createInterface({ input: stream, crlfDelay: Infinity })
        .on('line', (line) => out.write(`${id} | ${line}\n`));
    }
  }

  private onExit(bot: ManagedBot, code: number | null, signal: NodeJS.Signals | null): void {
    bot.child = null;
    if (this.stopping.get(bot.id) === bot) {
      this.opts.logger.info({ botId: bot.id, code, signal }, 'bot stopped');
      return; // stopBot's promise takes it from here
    }
    if (this.bots.get(bot.id) !== bot || this.shuttingDown) return;
    // A child that ran for a while before dying starts the backoff afresh.
    const ranMs = Date.now() - bot.startedAt;
    bot.crashes = ranMs > this.opts.restartBackoffMaxMs ? 1 : bot.crashes + 1;
    const delay = Math.min(this.opts.restartBackoffMs * 2 ** (bot.crashes - 1), this.opts.restartBackoffMaxMs);
    this.opts.logger.warn({ botId: bot.id, code, signal, restartInMs: delay }, 'bot exited unexpectedly; restarting');
    bot.restartTimer = setTimeout(() => {
      bot.restartTimer = null;
      if (this.bots.get(bot.id) === bot && !this.shuttingDown) this.spawnChild(bot);
    }, delay);
  }

  private stopBot(bot: ManagedBot): void {
    if (bot.restartTimer) {
      clearTimeout(bot.restartTimer);
      bot.restartTimer = null;
    }
    const child = bot.child;
    const alive = child !== null && child.exitCode === null && child.signalCode === null;
    // The id stays reserved until the server has forgotten it: a new bot with the same id must not
    // register before the DELETE of the old one lands.
    this.stopping.set(bot.id, bot);
    if (alive) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => {
        this.opts.logger.warn({ botId: bot.id, graceMs: this.opts.stopGraceMs }, 'bot did not stop in time; SIGKILL');
        child.kill('SIGKILL');
      }, this.opts.stopGraceMs);
      void bot.exited.then(() => clearTimeout(killer));
    }
    bot.stopped = (alive ? bot.exited : Promise.resolve()).then(async () => {
      try {
        await this.opts.server.deleteBot(bot.id);
      } catch (err) {
        // Not fatal: the server marks a silent bot down after BOT_DOWN_AFTER_MS anyway.
        this.opts.logger.warn(
          { botId: bot.id, err: (err as Error).message },
          'could not remove the stopped bot from the server',
        );
      }
      if (this.stopping.get(bot.id) === bot) this.stopping.delete(bot.id);
    });
  }
}
