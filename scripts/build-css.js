#!/usr/bin/env node
/*
 * Builds the dashboard's stylesheet with the Tailwind CLI (offline: the CLI ships its own native
 * scanner): dashboard/styles/input.css -> dashboard/public/app.css, minified. `npm run build:css`
 * runs it; the dashboard (main.ts and its tests) runs it when app.css is missing (a clean clone).
 * The CSS is written to a temporary file and renamed into place, so a reader (or a second build
 * running at the same time) never sees half a file. Exit code: the CLI's.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const input = path.join(root, 'dashboard', 'styles', 'input.css');
const output = path.join(root, 'dashboard', 'public', 'app.css');

/** Runs the Tailwind CLI; returns its exit code (0 = app.css is in place). */
function buildCss() {
  const cli = path.join(path.dirname(require.resolve('@tailwindcss/cli/package.json')), 'dist', 'index.mjs');
  const tmp = `${output}.${process.pid}.tmp`;
  const r = spawnSync(process.execPath, [cli, '-i', input, '-o', tmp, '--minify'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    return r.status ?? 1;
  }
  fs.renameSync(tmp, output);
  return 0;
}

module.exports = { buildCss, output };

if (require.main === module) {
  const code = buildCss();
  if (code === 0) console.log(`built ${path.relative(root, output)}`);
  process.exit(code);
}
