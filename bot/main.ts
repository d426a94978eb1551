/**
 * Composition root of a bot (`npm run bot`): read config, build the runner, run until SIGTERM or
 * SIGINT, exit 0. A bot serves no HTTP, so its health is its heartbeat, visible on the server.
 */
import { handleHelp, loadOrExit } from '../core/config';
import { createLogger } from '../core/logger';
import { ApiClient } from './api-client';
import { BOT_HELP, loadBotConfig } from './config';
import { HandlerRegistry } from './handlers';
import { applyNiceness } from './niceness';
import { BotRunner } from './runner';

handleHelp(process.argv.slice(2), BOT_HELP);
const config = loadOrExit(() => loadBotConfig(process.env));
const log = createLogger('bot', config.logLevel);
for (const w of config.tokenWarnings) log.warn({ event: 'default token' }, w);
const niceness = applyNiceness(config.nice);
if (niceness.error)
  log.warn(
    { event: 'niceness refused', wanted: config.nice, nice: niceness.nice, err: niceness.error },
    'could not lower the CPU priority; running at the current one',
  );

const handlers = new HandlerRegistry();
const runner = new BotRunner({
  config,
  api: new ApiClient({
    baseUrl: config.serverUrl,
    requestTimeoutMs: config.requestTimeoutMs,
    token: config.botToken,
  }),
  handlers,
  log,
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  // A second signal (Ctrl-C in a terminal plus a SIGTERM from a supervisor) changes nothing: the
  // grace period already bounds how long the bot stays.
  process.on(signal, () => runner.stop(signal));
}

log.info(
  {
    event: 'starting',
    botId: config.botId,
    serverUrl: config.serverUrl,
    types: handlers.types(),
    claimWaitMs: config.claimWaitMs,
    nice: niceness.nice,
  },
  'bot starting',
);
/** Exits once the logs are out; the pretty transport writes from a worker thread. */
function exit(code: number): void {
  setTimeout(() => process.exit(code), 1000).unref();
  log.flush(() => process.exit(code));
}

runner.run().then(
  () => exit(0),
  (err: unknown) => {
    log.fatal(
      { event: 'fatal', err: err instanceof Error ? err.message : String(err) },
      'bot stopped by a fatal error',
    );
    exit(1);
  },
);
