/** The V8 flags every bot runs with, wherever it is started (defined in ops/node-flags.env, which says why). */
import { readNodeFlags } from '../core/node-flags';

export const BOT_NODE_FLAGS: readonly string[] = readNodeFlags('BOT_NODE_FLAGS');
