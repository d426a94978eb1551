/**
 * One process of the bare HTTP ping-pong (bench/bare-http.ts), the ceiling of any design that
 * speaks HTTP on this machine: ROLE=server answers every POST with a fixed job-sized JSON answer
 * after parsing the body, and nothing else; ROLE=client sends PER_CLIENT requests one at a time on a
 * keep-alive agent, as a bot sends POST /jobs/next. Both talk to the parent over IPC: the server
 * sends its port, a client "ready", then waits for "go" and sends "done"; the server answers
 * "count" with how many requests it answered.
 *
 * Env: ROLE (server|client), PORT (client), PER_CLIENT (client).
 */
import http from 'node:http';
import { z } from 'zod';
import { envInt, envString, loadOrExit, parseEnv } from '../core/config';

const cfg = loadOrExit(() =>
  parseEnv(
    z.object({
      ROLE: envString('server').pipe(z.enum(['server', 'client'])),
      PORT: envInt(0, 0, 65535),
      PER_CLIENT: envInt(1000, 1, 10_000_000),
    }),
    process.env,
  ),
);
const send = (m: Record<string, unknown>) => process.send?.(m);

// The size and shape of a /jobs/next answer: the finished job and the next one.
const stamp = new Date().toISOString();
const job = {
  id: '0192f0a0-1111-7222-8333-444455556666',
  type: 'simulated',
  payload: {},
  status: 'running',
  priority: 0,
  attempts: 1,
  maxAttempts: 3,
  botId: 'bare-bot',
  createdAt: stamp,
  claimedAt: stamp,
  startedAt: stamp,
  finishedAt: null,
  leaseExpiresAt: stamp,
  result: null,
  error: null,
};
const ANSWER = JSON.stringify({
  finished: { ...job, status: 'completed', finishedAt: stamp, result: { simulated: true, durationMs: 0 } },
  job,
});
const REPORT = JSON.stringify({
  botId: 'bare-bot',
  complete: { jobId: job.id, attempt: 1, result: { simulated: true, durationMs: 0 } },
});

if (cfg.ROLE === 'server') {
  let answered = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      answered++;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(ANSWER) });
      res.end(ANSWER);
    });
  });
  server.listen(0, '127.0.0.1', () => send({ port: (server.address() as { port: number }).port }));
  process.on('message', (m) => {
    if (m === 'count') send({ count: answered });
  });
  process.on('SIGTERM', () => process.exit(0));
} else {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let left = cfg.PER_CLIENT;
  const one = () => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: cfg.PORT,
        method: 'POST',
        path: '/jobs/next',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(REPORT) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          JSON.parse(Buffer.concat(chunks).toString('utf8'));
          if (--left > 0) one();
          else send({ done: true });
        });
      },
    );
    req.on('error', (err) => {
      process.stderr.write(`bare client: ${err.message}\n`);
      process.exit(1);
    });
    req.end(REPORT);
  };
  process.on('message', (m) => {
    if (m === 'go') one();
  });
  process.on('SIGTERM', () => process.exit(0));
  send({ ready: true });
}
