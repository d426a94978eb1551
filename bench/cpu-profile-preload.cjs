/**
 * `--cpu-prof` is not allowed in NODE_OPTIONS, so `npm run bench -- --profile=DIR` preloads this file
 * into each server instead (NODE_OPTIONS=--require …): it starts the V8 profiler at load and writes
 * DIR/server-<pid>.cpuprofile when the process exits (the server exits on SIGTERM after draining).
 */
const fs = require('node:fs');
const path = require('node:path');
const inspector = require('node:inspector');

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 200 });
  session.post('Profiler.start');
  process.on('exit', () => {
    // In-process sessions answer synchronously, so this completes inside the exit handler.
    session.post('Profiler.stop', (err, res) => {
      if (err) return;
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `server-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
