/**
 * The V8 flags of the bot and the server (bot/node-flags.ts, server/node-flags.ts) are valid node
 * options that size the heap as intended, and every way a bot or the server is started carries them:
 * npm scripts, the controller's default BOT_COMMAND, the Dockerfile, docker-compose.yml, the Helm
 * chart and the benchmark's compiled server.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { BOT_NODE_FLAGS } from '../bot/node-flags';
import { loadConfig as loadControllerConfig } from '../controller/config';
import { SERVER_NODE_FLAGS } from '../server/node-flags';
import { startFleet } from '../bench/fleet';
import { startBenchServer } from '../bench/processes';
import { testTime } from './helpers/time';

const ROOT = path.resolve(__dirname, '..');
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');

/** heap_size_limit and the size of the young generation (both semi-spaces) under these flags, MB. */
function heapUnder(flags: readonly string[]): { limitMb: number; youngMb: number } {
  const out = execFileSync(
    process.execPath,
    [
      ...flags,
      '-e',
      `
    const v8 = require('v8');
    // Allocate enough short-lived garbage for the young generation to grow to its maximum.
    let keep = []; for (let i = 0; i < 3e6; i++) { keep.push({ i }); if (keep.length > 2e4) keep = []; }
    const s = v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
    console.log(JSON.stringify({ limitMb: v8.getHeapStatistics().heap_size_limit / 1048576, youngMb: s.space_size / 1048576 }));
  `,
    ],
    { encoding: 'utf8' },
  );
  return JSON.parse(out) as { limitMb: number; youngMb: number };
}

test.each([
  ['bot', BOT_NODE_FLAGS, 2, 256],
  ['server', SERVER_NODE_FLAGS, 8, 384],
])('the %s flags are accepted by node and bound the heap', (_name, flags, semi, old) => {
  const h = heapUnder(flags);
  expect(h.youngMb).toBeLessThanOrEqual(2 * semi);
  // heap_size_limit = old space + the young generation (3 semi-spaces' worth in V8's accounting).
  expect(h.limitMb).toBeGreaterThanOrEqual(old);
  expect(h.limitMb).toBeLessThanOrEqual(old + 3 * semi);
  // Without them a long-running process may grow to 16 MB semi-spaces and a multi-GB old space.
  expect(heapUnder([]).limitMb).toBeGreaterThan(old + 3 * semi);
});

test('npm run bot / npm run server start node with the flags', () => {
  const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
  expect(scripts.bot).toBe(['node', ...BOT_NODE_FLAGS, '--import tsx bot/main.ts'].join(' '));
  expect(scripts.server).toBe(['node', ...SERVER_NODE_FLAGS, '--import tsx server/main.ts'].join(' '));
});

test("the controller's process driver starts bots with the flags, by default and in the image", () => {
  expect(loadControllerConfig({}).botCommand).toEqual(['node', ...BOT_NODE_FLAGS, '--import', 'tsx', 'bot/main.ts']);
  expect(read('Dockerfile')).toContain(`BOT_COMMAND="${['node', ...BOT_NODE_FLAGS, 'dist/bot/main.js'].join(' ')}"`);
  const compose = yaml.load(read('docker-compose.yml')) as {
    services: Record<string, { command: string[]; environment?: Record<string, string> }>;
  };
  expect(compose.services.controller.environment?.BOT_COMMAND).toBe(
    ['node', ...BOT_NODE_FLAGS, 'dist/bot/main.js'].join(' '),
  );
});

test('the image, compose and the chart start bot and server with the flags', () => {
  const compose = yaml.load(read('docker-compose.yml')) as { services: Record<string, { command: string[] }> };
  expect(compose.services.bot.command).toEqual(['node', ...BOT_NODE_FLAGS, 'dist/bot/main.js']);
  expect(compose.services.server.command).toEqual(['node', ...SERVER_NODE_FLAGS, 'dist/server/main.js']);
  expect(read('Dockerfile')).toContain(
    `CMD ${JSON.stringify(['node', ...SERVER_NODE_FLAGS, 'dist/server/main.js']).replace(/","/g, '", "')}`,
  );
  expect(read('charts/botfleet/templates/bots-deployment.yaml')).toContain(
    `command: ${JSON.stringify(['node', ...BOT_NODE_FLAGS, 'dist/bot/main.js']).replace(/","/g, '", "')}`,
  );
  expect(read('charts/botfleet/templates/server-statefulset.yaml')).toContain(
    `command: ${JSON.stringify(['node', ...SERVER_NODE_FLAGS, 'dist/server/main.js']).replace(/","/g, '", "')}`,
  );
});

const argvOf = (pid: number) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);

test(
  "the benchmark's compiled server and its fleets' bots run with their flags",
  async () => {
    const s = await startBenchServer();
    try {
      expect(argvOf(s.proc.pid!).slice(1, 1 + SERVER_NODE_FLAGS.length)).toEqual([...SERVER_NODE_FLAGS]);
      const fleet = await startFleet('bot', [s.url], 1, 'node-flags');
      try {
        expect(argvOf(fleet.children[0].proc.pid!).slice(1, 1 + BOT_NODE_FLAGS.length)).toEqual([...BOT_NODE_FLAGS]);
      } finally {
        await fleet.stop();
      }
    } finally {
      await s.stop();
      fs.rmSync(s.dir, { recursive: true, force: true });
    }
  },
  testTime(60_000),
);
