/**
 * Compiles the server, the bot and the dashboard to plain JavaScript for the benchmark, as the image
 * runs them (`node dist/server/main.js`, `node dist/bot/main.js`, `node dist/dashboard/main.js`): tsx keeps its loader and esbuild in every
 * process, which costs ~40 MB of RSS per process and start-up time, and would misstate the scale goal's
 * memory figures. Transpile only (types are checked by `tsc --noEmit`), into node_modules/.cache so
 * that `require('pino')` and friends resolve from the project.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { ROOT } from '../test/helpers/server-process';

const COMPILED_DIR = path.join(ROOT, 'node_modules', '.cache', 'botfleet-bench');

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'testing' || e.name === 'test-support' ? [] : walk(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

let compiled = false;

/** Transpiles core/, bot/, server/, datalake/ and dashboard/ once per run; returns the compiled bot entry point. */
export function compileBot(): string {
  compileAll();
  return path.join(COMPILED_DIR, 'bot', 'main.js');
}

/**
 * The compiled dashboard entry point. It finds its views and static files next to its code, so those
 * folders are linked into the compiled tree (the image copies them: Dockerfile).
 */
export function compileDashboard(): string {
  compileAll();
  // The stylesheet is a build output (npm run build:css, as the image's build runs it). The dashboard
  // builds it on start when missing, through a path relative to its source, which the compiled copy
  // does not have. Build it here instead.
  if (!fs.existsSync(path.join(ROOT, 'dashboard', 'public', 'app.css'))) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { buildCss } = require(path.join(ROOT, 'scripts', 'build-css.js')) as { buildCss: () => number };
    if (buildCss() !== 0) throw new Error('building dashboard/public/app.css failed (npm run build:css)');
  }
  for (const dir of ['views', 'public']) {
    const link = path.join(COMPILED_DIR, 'dashboard', dir);
    if (!fs.existsSync(link)) fs.symlinkSync(path.join(ROOT, 'dashboard', dir), link, 'dir');
  }
  return path.join(COMPILED_DIR, 'dashboard', 'main.js');
}

/** The compiled server entry point. */
export function compileServer(): string {
  compileAll();
  return path.join(COMPILED_DIR, 'server', 'main.js');
}

function compileAll(): void {
  if (compiled) return;
  compiled = true;
  for (const folder of ['core', 'bot', 'server', 'datalake', 'dashboard']) {
    for (const file of walk(path.join(ROOT, folder))) {
      const js = ts.transpileModule(fs.readFileSync(file, 'utf8'), {
        fileName: file,
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      }).outputText;
      const out = path.join(COMPILED_DIR, path.relative(ROOT, file)).replace(/\.ts$/, '.js');
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, js);
    }
  }
}
