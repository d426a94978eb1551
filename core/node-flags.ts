/**
 * Reads the V8 flags of a component from ops/node-flags.env, their one definition (bin/botfleet
 * sources the same file). Found from here in a source checkout (core/) and in the image (dist/core/).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';

const FILE = ['..', '../..'].map((up) => path.resolve(__dirname, up, 'ops', 'node-flags.env')).find(fs.existsSync);

export function readNodeFlags(name: 'SERVER_NODE_FLAGS' | 'BOT_NODE_FLAGS'): readonly string[] {
  if (!FILE) throw new Error(`ops/node-flags.env not found above ${__dirname}`);
  const value = parseEnv(fs.readFileSync(FILE, 'utf8'))[name];
  if (!value) throw new Error(`${FILE} does not define ${name}`);
  return Object.freeze(value.split(/\s+/).filter(Boolean));
}
