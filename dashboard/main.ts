/**
 * Composition root of the dashboard: read config, make sure the stylesheet exists, build the app,
 * listen, and shut down cleanly on SIGTERM/SIGINT.
 */
import http from 'node:http';
import { handleHelp, loadOrExit } from '../core/config';
import { createLogger } from '../core/logger';
import { createDashboardApp } from './app';
import { DASHBOARD_HELP, loadDashboardConfig } from './config';
import { ensureStylesheet } from './stylesheet';

handleHelp(process.argv.slice(2), DASHBOARD_HELP);
const config = loadOrExit(() => loadDashboardConfig(process.env));
const logger = createLogger('dashboard', config.logLevel);

ensureStylesheet(logger);
const { app, deps } = createDashboardApp(config, logger);
for (const w of config.tokenWarnings) logger.warn({ event: 'default token' }, w);

const server = http.createServer(app.callback());
server.requestTimeout = 30_000;
const sweeper = setInterval(() => deps.sessions.sweep(), 60_000);
sweeper.unref();

server.on('error', (err) => {
  logger.fatal({ err }, 'dashboard could not listen');
  process.exit(1);
});
server.listen(config.port, config.host, () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  logger.info(
    { port, host: config.host, serverUrl: config.serverUrl, controllerUrl: config.controllerUrl },
    'dashboard listening',
  );
});

let stopping = false;
function shutdown(signal: string): void {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'dashboard stopping');
  clearInterval(sweeper);
  // Live pages keep connections alive; close idle ones now and give open requests a deadline.
  server.close(() => {
    logger.info('dashboard stopped');
    process.exit(0);
  });
  server.closeIdleConnections();
  setTimeout(() => {
    logger.warn('open requests did not finish in time; closing anyway');
    server.closeAllConnections();
    process.exit(0);
  }, config.shutdownTimeoutMs).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
