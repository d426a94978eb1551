/**
 * Test time-outs, scaled for slow machines. A time-out in a test says "this is hung", never "this is
 * slow": CI runs on a shared 2-core machine that is sometimes 5-20x slower than usual, and a test
 * that waits for a condition returns as soon as it holds, so a generous limit costs nothing on a
 * healthy machine. TEST_TIME_SCALE (default 4) multiplies every time-out the tests set through
 * testTime(): Jest's per-test limits, waitFor() (which the benchmark's start-up waits use too), the
 * bot harness's waits, child-process and request limits, the slack of timing bounds. The bounds a
 * guarantee promises stay fixed. Benchmarks, not tests, measure speed.
 */
const raw = Number(process.env.TEST_TIME_SCALE);
const TEST_TIME_SCALE = Number.isFinite(raw) && raw > 0 ? raw : 4;

/** A time-out of `ms` on a healthy machine, as this run should allow it. */
function testTime(ms) {
  return Math.round(ms * TEST_TIME_SCALE);
}

module.exports = { TEST_TIME_SCALE, testTime };
