/**
 * Jest's Node environment, plus one rule: every child process a test file starts with
 * child_process.spawn is stopped when the file ends (SIGTERM, then SIGKILL after 5 s), after the
 * file's own clean-up ran. A test that timed out skipped its clean-up and left servers, controllers
 * and bots running; on a slow machine their load timed out the tests after it, and so on (seen:
 * load average 24 with a dozen orphaned servers).
 *
 * Plain JavaScript: Jest loads test environments without the project's transform.
 */
const { setTimeout, clearTimeout } = require('node:timers');
const childProcess = require('node:child_process');
const { TestEnvironment } = require('jest-environment-node');

/** The children of the test file running in this worker now (one at a time per worker). */
let live = null;

// Patched once per worker: test files reach the same module object through Jest's require.
if (!childProcess.spawn.botfleetTracked) {
  const original = childProcess.spawn;
  const tracked = function spawn(...args) {
    const child = original.apply(this, args);
    const set = live;
    if (set) {
      set.add(child);
      child.once('exit', () => set.delete(child));
    }
    return child;
  };
  tracked.botfleetTracked = true;
  childProcess.spawn = tracked;
}

const running = (child) => child.exitCode === null && child.signalCode === null;

async function stopAll(children, graceMs) {
  const left = [...children].filter(running);
  if (left.length === 0) return 0;
  const exited = left.map((c) => new Promise((resolve) => c.once('exit', resolve)));
  for (const c of left) c.kill('SIGTERM');
  let timer;
  await Promise.race([Promise.all(exited), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
  clearTimeout(timer);
  for (const c of left) if (running(c)) c.kill('SIGKILL');
  return left.length;
}

class ReapingEnvironment extends TestEnvironment {
  async setup() {
    await super.setup();
    this.children = new Set();
    live = this.children;
  }

  async teardown() {
    live = null;
    const n = await stopAll(this.children, 5000);
    if (n > 0) process.stderr.write(`test environment: stopped ${n} child process(es) the test file left running\n`);
    await super.teardown();
  }
}

module.exports = ReapingEnvironment;
