import { ConfigError } from '../core/config';
import { loadDashboardConfig } from './config';

describe('loadDashboardConfig', () => {
  it('has working defaults', () => {
    const c = loadDashboardConfig({});
    expect(c).toMatchObject({
      port: 3002,
      host: '0.0.0.0',
      serverUrl: 'http://localhost:3001',
      controllerUrl: 'http://localhost:3003',
      tokens: { admin: ['admin-dev-token-change-me'], viewer: ['viewer-dev-token-change-me'] },
      tokenWarnings: [expect.stringMatching(/^ADMIN_TOKEN/), expect.stringMatching(/^VIEWER_TOKEN/)],
      trustProxy: false,
      refreshMs: 3000,
      sessionTtlMs: 8 * 3600 * 1000,
      logLevel: 'info',
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads every variable and strips trailing slashes from URLs', () => {
    const c = loadDashboardConfig({
      DASHBOARD_PORT: '4002',
      DASHBOARD_HOST: '127.0.0.1',
      SERVER_URL: 'http://server:3001/',
      CONTROLLER_URL: 'https://controller.example//',
      ADMIN_TOKEN: 'a-long-secret, the-old-secret',
      VIEWER_TOKEN: 'a-viewer-secret',
      TRUST_PROXY: 'true',
      SESSION_TTL_MS: '600_000',
      DASHBOARD_REFRESH_MS: '1000',
      LOG_LEVEL: 'debug',
    });
    expect(c).toMatchObject({
      port: 4002,
      host: '127.0.0.1',
      serverUrl: 'http://server:3001',
      controllerUrl: 'https://controller.example',
      tokens: { admin: ['a-long-secret', 'the-old-secret'], viewer: ['a-viewer-secret'] },
      tokenWarnings: [],
      trustProxy: true,
      sessionTtlMs: 600_000,
      refreshMs: 1000,
      logLevel: 'debug',
    });
  });

  it('names every bad variable at once', () => {
    let err: unknown;
    try {
      loadDashboardConfig({
        DASHBOARD_PORT: '70000',
        CONTROLLER_URL: 'not a url',
        ADMIN_TOKEN: 'short',
        DASHBOARD_REFRESH_MS: '10',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    for (const v of ['DASHBOARD_PORT', 'CONTROLLER_URL', 'ADMIN_TOKEN', 'DASHBOARD_REFRESH_MS'])
      expect(problems).toContain(v);
  });
});
