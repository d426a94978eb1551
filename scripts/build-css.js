#!/usr/bin/env node
/*
 * Builds the dashboard's stylesheet with the Tailwind CLI (offline: the CLI ships its own native
 * scanner): dashboard/styles/input.css -> dashboard/public/app.css, minified. `npm run build:css`
 * runs it; dashboard/main.ts runs it on start when app.css is missing (a clean clone).
 * Exit code: the CLI's.
 */
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const input = path.join(root, 'dashboard', 'styles', 'input.css');
const output = path.join(root, 'dashboard', 'public', 'app.css');

function buildCss() {
  const cli = path.join(path.dirname(require.resolve('@tailwindcss/cli/package.json')), 'dist', 'index.mjs');
  const r = spawnSync(process.execPath, [cli, '-i', input, '-o', output, '--minify'], { cwd: root, stdio: 'inherit' });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

module.exports = { buildCss, output };

if (require.main === module) {
  process.exit(buildCss());
}
