/**
 * The V8 flags the server process runs with, wherever it is started: package.json (`npm run
 * server`), the Dockerfile's CMD, docker-compose.yml, the Helm chart and the benchmark
 * (test/node-flags.test.ts checks that each carries them).
 *
 * The server's live heap is ~26 MB, but a `POST /jobs` of 10,000 jobs allocates ~80 MB (zod's copy
 * of the body, the rows, the 4.5 MB answer), much of it alive long enough to be promoted. With the
 * defaults (2 x 16 MB young generation, old generation allowed ~4x the live heap before a full
 * collection on a big machine) the peak climbed with every bulk enqueue: 137, 165, 165, 182, 207 MB
 * after 1-5 of them. An 8 MB semi-space and a max old space of 384 MB (below the chart's 512 Mi
 * limit of the server container, so it changes no failure mode there) make V8 use its small-heap
 * growth factor: 121-162 MB after the same 1-6 enqueues (docs/performance.md, goal 4).
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--max-old-space-size=384'];
