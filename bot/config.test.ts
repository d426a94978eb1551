import os from 'node:os';
import { ConfigError } from '../core/config';
import { loadBotConfig } from './config';

describe('loadBotConfig', () => {
  it('has the documented defaults; BOT_ID is the host name', () => {
    expect(loadBotConfig({})).toEqual({
      serverUrl: 'http://localhost:3001',
      botToken: 'bot-dev-token-change-me',
      tokenWarnings: [expect.stringMatching(/^BOT_TOKEN is a published default/)],
      botId: os.hostname(),
      botName: os.hostname(),
      heartbeatIntervalMs: 30000,
      processingDurationMs: 300000,
      failureRate: 0.15,
      claimWaitMs: 25000,
      claimPollIntervalMs: 1000,
      shutdownGraceMs: 25000,
      backoffMinMs: 500,
      backoffMaxMs: 30000,
      requestTimeoutMs: 10000,
      nice: 10,
      logLevel: 'info',
    });
  });

  it('reads every variable', () => {
    const c = loadBotConfig({
      SERVER_URL: 'http://server:3001/',
      BOT_ID: 'my-bot-4',
      BOT_NAME: 'Fourth',
      HEARTBEAT_INTERVAL_MS: '5_000',
      PROCESSING_DURATION_MS: '0',
      FAILURE_RATE: '1',
      CLAIM_WAIT_MS: '0',
      REQUEST_TIMEOUT_MS: '2500',
      BOT_SHUTDOWN_GRACE_MS: '100',
      BACKOFF_MIN_MS: '10',
      BACKOFF_MAX_MS: '10',
      BOT_NICE: '0',
      LOG_LEVEL: 'debug',
    });
    expect(c).toMatchObject({
      serverUrl: 'http://server:3001',
      botId: 'my-bot-4',
      botName: 'Fourth',
      heartbeatIntervalMs: 5000,
      failureRate: 1,
      claimWaitMs: 0,
      shutdownGraceMs: 100,
      requestTimeoutMs: 2500,
      nice: 0,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('names every bad variable at once', () => {
    let err: unknown;
    try {
      loadBotConfig({
        SERVER_URL: 'ftp://x',
        BOT_ID: 'has space',
        FAILURE_RATE: '1.5',
        CLAIM_WAIT_MS: '40000',
        REQUEST_TIMEOUT_MS: '5',
        BOT_NICE: '20',
        HEARTBEAT_INTERVAL_MS: '1',
        BACKOFF_MIN_MS: '5000',
        BACKOFF_MAX_MS: '1000',
        LOG_LEVEL: 'loud',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const text = (err as ConfigError).problems.join('\n');
    for (const v of [
      'SERVER_URL',
      'BOT_ID',
      'FAILURE_RATE',
      'CLAIM_WAIT_MS',
      'REQUEST_TIMEOUT_MS',
      'BOT_NICE',
      'HEARTBEAT_INTERVAL_MS',
      'LOG_LEVEL',
    ])
      expect(text).toContain(v);
  });

  it('refuses BACKOFF_MIN_MS above BACKOFF_MAX_MS', () => {
    expect(() => loadBotConfig({ BACKOFF_MIN_MS: '5000', BACKOFF_MAX_MS: '1000' })).toThrow(
      /BACKOFF_MIN_MS: must not exceed BACKOFF_MAX_MS/,
    );
  });
});
