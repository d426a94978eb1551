/** The V8 flags the server runs with, wherever it is started (defined in ops/node-flags.env, which says why). */
import { readNodeFlags } from '../core/node-flags';

export const SERVER_NODE_FLAGS: readonly string[] = readNodeFlags('SERVER_NODE_FLAGS');
