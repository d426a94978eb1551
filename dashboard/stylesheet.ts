/**
 * dashboard/public/app.css is a build output (git-ignored). The dashboard builds it on start when it
 * is missing, so `npm run dashboard` works on a clean clone; the build takes well under a second.
 */
import fs from 'node:fs';
import type { Logger } from '../core/logger';
import { CSS_PATH } from './static-assets';

/** Builds app.css unless it exists. Returns false (and logs) when the build fails: pages then load unstyled. */
export function ensureStylesheet(logger: Logger): boolean {
  if (fs.existsSync(CSS_PATH)) return true;
  logger.info({ file: CSS_PATH }, 'building the Tailwind stylesheet (missing)');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { buildCss } = require('../scripts/build-css.js') as { buildCss: () => number };
  const code = buildCss();
  if (code !== 0) {
    logger.error({ code }, 'building the stylesheet failed; pages will be unstyled (run npm run build:css)');
    return false;
  }
  return true;
}
