/**
 * Composition root of the controller: read config, build the driver and the desired-state store,
 * start the reconcile loop and the HTTP API, and on SIGTERM/SIGINT stop in order (HTTP, loop, then
 * the bots the process driver runs) and exit 0.
 */
import http from 'node:http';
import { systemClock } from '../core/clock';
import { handleHelp, loadOrExit } from '../core/config';
import { createLogger, type Logger } from '../core/logger';
import { Autoscaler } from './autoscaler';
import { HELP, loadConfig, type ControllerConfig } from './config';
import { HARD_MAX_BOTS, type DesiredState, type DesiredStateStore } from './desired-state';
import type { ScaleDriver } from './drivers/driver';
import { createControllerApp } from './http/app';
import { ControllerMetrics } from './metrics';
import { ReconcileLoop } from './reconcile-loop';
import { HttpServerClient, type ServerClient } from './server-client';
import { JsonFileStateStore } from './state/file-store';

async function buildDriver(
  config: ControllerConfig,
  server: ServerClient,
  logger: Logger,
  defaults: DesiredState,
): Promise<{ driver: ScaleDriver; store: DesiredStateStore }> {
  if (config.driver === 'kubernetes') {
    // Loaded only when used, so the process driver never pays for the Kubernetes client.
    const k8s = await import('./drivers/kubernetes.js');
    const { ConfigMapStateStore } = await import('./state/configmap-store.js');
    const kc = k8s.loadKubeConfig({ kubeconfigFile: config.kubeconfigFile, inCluster: config.inCluster });
    const driver = new k8s.KubernetesScaleDriver(kc, {
      namespace: config.kubeNamespace,
      deployment: config.botsDeployment,
      configMap: config.configMapName,
      server,
      logger,
    });
    const access = new k8s.KubernetesConfigMapAccess(kc, config.kubeNamespace);
    return { driver, store: new ConfigMapStateStore(access, config.configMapName, HARD_MAX_BOTS, defaults) };
  }
  const { ProcessDriver } = await import('./drivers/process.js');
  const driver = new ProcessDriver({
    command: config.botCommand,
    cwd: config.botCwd,
    env: config.botEnv,
    idPrefix: config.botIdPrefix,
    serverUrl: config.serverUrl,
    botToken: config.tokens.bot[0],
    server,
    logger,
    stopGraceMs: config.botStopGraceMs,
    restartBackoffMs: config.botRestartBackoffMs,
    restartBackoffMaxMs: config.botRestartBackoffMaxMs,
  });
  return { driver, store: new JsonFileStateStore(config.stateFile, HARD_MAX_BOTS, defaults) };
}

async function main(): Promise<void> {
  handleHelp(process.argv.slice(2), HELP);
  const config = loadOrExit(() => loadConfig(process.env));
  const logger = createLogger('controller', config.logLevel);
  for (const w of config.tokenWarnings) logger.warn({ event: 'default token' }, w);

  const defaults: DesiredState = { replicas: config.botReplicas, autoscale: { ...config.autoscale } };
  const server = new HttpServerClient(config.serverUrl, config.serverTimeoutMs, {
    viewer: config.tokens.viewer[0],
    admin: config.tokens.admin[0],
  });
  const { driver, store } = await buildDriver(config, server, logger, defaults);
  const metrics = new ControllerMetrics();
  const loop = new ReconcileLoop({
    store,
    driver,
    server,
    autoscaler: new Autoscaler(systemClock, config.autoscaleCooldownMs),
    defaults,
    maxBots: config.maxBots,
    intervalMs: config.reconcileIntervalMs,
    logger,
    onReport: (report, error) => metrics.observe(report, error),
  });

  const app = createControllerApp({
    loop,
    driver,
    tokens: config.tokens,
    trustProxy: config.trustProxy,
    maxBots: config.maxBots,
    bodyLimitBytes: config.bodyLimitBytes,
    metrics,
    logger,
  });
  const httpServer = http.createServer(app.callback());
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => resolve());
  });
  const address = httpServer.address();
  logger.info(
    {
      port: typeof address === 'object' && address ? address.port : config.port,
      driver: driver.name,
      state: store.location,
    },
    'controller listening',
  );
  await loop.start();
  driver.watch?.(() => void loop.resync());

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => httpServer.closeAllConnections(), config.shutdownTimeoutMs);
    force.unref();
    await new Promise<void>((resolve) => {
      httpServer.close(() => resolve());
      httpServer.closeIdleConnections();
    });
    await loop.stop();
    await driver.shutdown();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // A crash must not leave the process driver's bots running without their controller: a restarted
  // controller would start a second bot under each id.
  const crash = (err: unknown) => {
    logger.fatal({ err }, 'controller crashed; stopping its bots');
    const exit = setTimeout(() => process.exit(1), config.shutdownTimeoutMs);
    exit.unref();
    void driver.shutdown().finally(() => process.exit(1));
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
}

main().catch((err) => {
  process.stderr.write(`controller failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
