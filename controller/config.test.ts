import { BOT_NODE_FLAGS } from '../bot/node-flags';
import { ConfigError } from '../core/config';
import { loadConfig, splitCommand } from './config';

describe('controller config', () => {
  it('has the documented defaults outside Kubernetes', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 3003,
      serverUrl: 'http://localhost:3001',
      driver: 'process',
      botReplicas: 3,
      maxBots: 50,
      botIdPrefix: 'bot',
      botsDeployment: 'botfleet-bots',
      configMapName: 'botfleet-controller',
      tokens: {
        admin: ['admin-dev-token-change-me'],
        bot: ['bot-dev-token-change-me'],
        viewer: ['viewer-dev-token-change-me'],
      },
      trustProxy: false,
      inCluster: false,
      kubeconfigFile: null,
    });
    expect(c.botCommand).toEqual(['node', ...BOT_NODE_FLAGS, '--import', 'tsx', 'bot/main.ts']);
    expect(c.stateFile.endsWith('data/controller-state.json')).toBe(true);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('hands the bots its environment without the admin and viewer tokens', () => {
    const c = loadConfig({
      ADMIN_TOKEN: 'admin-token-1',
      VIEWER_TOKEN: 'viewer-token-1',
      BOT_TOKEN: 'bot-token-1',
      X: 'y',
    });
    expect(c.botEnv).toEqual({ BOT_TOKEN: 'bot-token-1', X: 'y' });
    expect(c.tokenWarnings).toEqual([]);
  });

  it('defaults to the kubernetes driver inside a pod', () => {
    const c = loadConfig({ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBE_NAMESPACE: 'jobs' });
    expect(c.driver).toBe('kubernetes');
    expect(c.inCluster).toBe(true);
    expect(c.kubeNamespace).toBe('jobs');
  });

  it('names every bad variable at once', () => {
    let err: unknown;
    try {
      loadConfig({
        CONTROLLER_PORT: 'x',
        SCALE_DRIVER: 'docker',
        MAX_BOTS: '-1',
        SERVER_URL: 'ftp://x',
        BOTS_DEPLOYMENT: 'Bad_Name',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    for (const v of ['CONTROLLER_PORT', 'SCALE_DRIVER', 'MAX_BOTS', 'SERVER_URL', 'BOTS_DEPLOYMENT'])
      expect(problems).toContain(v);
  });

  it('refuses BOT_REPLICAS above MAX_BOTS and AUTOSCALE_MIN above AUTOSCALE_MAX', () => {
    expect(() => loadConfig({ BOT_REPLICAS: '9', MAX_BOTS: '4' })).toThrow(/BOT_REPLICAS/);
    expect(() => loadConfig({ AUTOSCALE_MIN: '5', AUTOSCALE_MAX: '2' })).toThrow(/AUTOSCALE_MIN/);
  });

  it('passes its own environment on to bots', () => {
    expect(loadConfig({ PROCESSING_DURATION_MS: '1000' }).botEnv.PROCESSING_DURATION_MS).toBe('1000');
  });

  it('splits BOT_COMMAND without a shell, honouring quotes', () => {
    expect(splitCommand(`node "dist/my bot/main.js" --x 'a b'`)).toEqual(['node', 'dist/my bot/main.js', '--x', 'a b']);
  });
});
