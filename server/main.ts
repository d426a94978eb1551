/** `npm run server`: the composition root. Reads config, runs the server, stops on SIGTERM/SIGINT. */
import { handleHelp, loadOrExit } from '../core/config';
import { createLogger } from '../core/logger';
import { loadServerConfig, SERVER_HELP } from './config';
import { runServer } from './runtime';
import { StoreOpenError } from './store/types';

async function main(): Promise<void> {
  handleHelp(process.argv.slice(2), SERVER_HELP);
  const config = loadOrExit(() => loadServerConfig());
  const log = createLogger('server', config.LOG_LEVEL);
  for (const w of config.tokenWarnings) log.warn({ event: 'default token' }, w);
  let server;
  try {
    server = await runServer(config, log);
  } catch (err) {
    if (err instanceof StoreOpenError) {
      log.fatal(err.message);
      process.stderr.write(`server: ${err.message}\n`);
      process.exit(2);
    }
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') {
      log.fatal(`port ${config.SERVER_PORT} is already in use; set SERVER_PORT`);
      process.exit(2);
    }
    throw err;
  }
  log.info({ url: server.url, port: server.port, database: server.database }, 'server listening');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing in-flight requests and flushing the datalake');
    server
      .close()
      .then(() => {
        log.info('stopped');
        process.exit(0);
      })
      .catch((err) => {
        log.error({ err: (err as Error).message }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`server failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});
