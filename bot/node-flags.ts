/**
 * The V8 flags every bot process runs with, wherever it is started: package.json (`npm run bot`),
 * the controller's default BOT_COMMAND, the Dockerfile's BOT_COMMAND, docker-compose.yml, the Helm
 * chart and the benchmark (test/node-flags.test.ts checks that each carries them).
 *
 * A bot's live heap is ~9 MB, yet V8 sizes its heap for throughput on a big machine: under a drain
 * the young generation grows to 2 x 16 MB and the old one to ~4x the live heap before its first
 * full collection, so an idle 60 MB bot peaked at 100+ MB (docs/performance.md, goal 4). A 2 MB
 * semi-space keeps the young generation at 4 MB (scavenges stay ~1 ms, the live set is small); a
 * max old space of 256 MB (the chart's memory limit of a bot) makes V8 use its small-heap growth
 * factor, so a full collection comes at ~17 MB instead of ~36 MB. Peak of a bot through 20,000
 * jobs: 101-103 MB without, 69-74 MB with.
 *
 * `--single-threaded-gc`: V8 otherwise runs its scavenges and marking on helper threads as well.
 * With a 4 MB young generation there is little to share, and on a machine where the bots, the
 * server and the database take turns on few cores the helpers' coordination is CPU taken from
 * them: bot CPU per job 0.95x, drain 1.04-1.05x over 6 alternating rounds (docs/performance.md);
 * a bot's peak RSS rose 3-4 MB (69 to 72-73 MB).
 */
export const BOT_NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=2',
  '--max-old-space-size=256',
  '--single-threaded-gc',
];
