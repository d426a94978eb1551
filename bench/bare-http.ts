/**
 * The drain goal's context row: a bare node:http ping-pong, the ceiling of any design that speaks
 * HTTP on this machine. One server process that parses each body and writes a fixed job-sized answer, and
 * `clients` processes sending one request at a time (bench/bare-http-worker.ts). Timed from "go" to
 * the last client's "done"; CPU per exchange from /proc.
 */
import { nextMessage } from './fleet';
import { cpuMs, spawnTs, type Child } from './processes';

export interface PingPong {
  requestsPerSecond: number;
  /** Requests the server answered (clients x perClient when all went well). */
  answered: number;
  serverCpuUs: number;
  clientCpuUs: number;
}

export async function bareHttpPingPong(clients: number, perClient: number): Promise<PingPong> {
  const server = spawnTs('bench/bare-http-worker.ts', { ROLE: 'server' }, { ipc: true });
  const kids: Child[] = [];
  try {
    const { port } = await nextMessage(server.proc, 'port');
    for (let i = 0; i < clients; i++)
      kids.push(
        spawnTs(
          'bench/bare-http-worker.ts',
          { ROLE: 'client', PORT: String(port), PER_CLIENT: String(perClient) },
          { ipc: true },
        ),
      );
    await Promise.all(kids.map((k) => nextMessage(k.proc, 'ready')));
    const s0 = cpuMs(server.proc.pid!);
    const c0 = kids.reduce((a, k) => a + cpuMs(k.proc.pid!), 0);
    const done = Promise.all(kids.map((k) => nextMessage(k.proc, 'done', 600_000)));
    const t0 = performance.now();
    for (const k of kids) k.proc.send('go');
    await done;
    const seconds = (performance.now() - t0) / 1000;
    const total = clients * perClient;
    const serverCpuUs = ((cpuMs(server.proc.pid!) - s0) * 1000) / total;
    const clientCpuUs = ((kids.reduce((a, k) => a + cpuMs(k.proc.pid!), 0) - c0) * 1000) / total;
    const count = nextMessage(server.proc, 'count');
    server.proc.send('count');
    return { requestsPerSecond: total / seconds, answered: Number((await count).count), serverCpuUs, clientCpuUs };
  } finally {
    await Promise.all([...kids, server].map((k) => k.stop(2000)));
  }
}
