/**
 * Peak memory (VmHWM) of the compiled server and bots, A/B: two sets of node flags, alternating
 * rounds on the same machine, so other work's load falls on both alike. Each round starts a fresh
 * server, then `drains` times: pause, enqueue n jobs in POST /jobs bulks of 10,000 (the answer
 * carries every job, as goal 4's driver does), start 4 bots, resume, wait until all n finished.
 * Prints jobs/s of each drain and the peaks of server and bots.
 *
 * Usage: node --import tsx bench/memory.ts [rounds=2] [n=10000] [drains=2] [A flags] [B flags]
 *   flags: "server:--x=1,--y bot:--z=2" ("-" for none); defaults compare no flags with the ones the
 *   images use (bot/node-flags.ts, server/node-flags.ts).
 */
import { ADMIN, enqueue, getJson, postJson, sleep, summary } from './http';
import { compileBot } from './compile';
import { cpuMs, memoryOf, removeBenchDirs, spawnNode, startBenchServer, type Child } from './processes';
import { BOT_NODE_FLAGS } from '../bot/node-flags';
import { SERVER_NODE_FLAGS } from '../server/node-flags';
import { countArg, scriptArgs } from './cli';

interface Flags {
  server: string[];
  bot: string[];
}

function parseFlags(s: string | undefined, def: Flags): Flags {
  if (s === undefined) return def;
  const out: Flags = { server: [], bot: [] };
  for (const part of s.split(' ').filter((p) => p && p !== '-')) {
    const [who, list] = part.split(/:(.*)/s);
    if (who !== 'server' && who !== 'bot') throw new Error(`bad flags "${part}": server:... or bot:...`);
    out[who] = list.split(',').filter((x) => x && x !== '-');
  }
  return out;
}

async function drain(
  url: string,
  serverPid: number,
  n: number,
  flags: Flags,
  prefix: string,
): Promise<{ jobsPerSecond: number; botPeakMb: number; serverCpuUs: number; botCpuUs: number }> {
  const before = await summary(url);
  const done0 = (before.jobs.completed ?? 0) + (before.jobs.failed ?? 0);
  await postJson(`${url}/queue/pause`, {}, ADMIN);
  await enqueue(url, n);
  const bots: Child[] = [];
  const ids = [0, 1, 2, 3].map((i) => `${prefix}-${i}`);
  for (const id of ids) {
    bots.push(
      spawnNode([...flags.bot, compileBot()], {
        SERVER_URL: url,
        BOT_ID: id,
        PROCESSING_DURATION_MS: '0',
        FAILURE_RATE: '0',
        LOG_LEVEL: 'warn',
        CLAIM_POLL_INTERVAL_MS: '10',
      }),
    );
  }
  try {
    for (;;) {
      const known = new Set((await getJson<{ items: { id: string }[] }>(`${url}/bots`)).items.map((b) => b.id));
      if (ids.every((id) => known.has(id))) break;
      if (bots.some((b) => b.proc.exitCode !== null))
        throw new Error(
          `a bot exited:\n${bots
            .map((b) => b.output())
            .join('\n')
            .slice(-2000)}`,
        );
      await sleep(50);
    }
    const cpu0 = cpuMs(serverPid);
    const botCpu0 = bots.reduce((a, b) => a + cpuMs(b.proc.pid!), 0);
    const t0 = performance.now();
    await postJson(`${url}/queue/resume`, {}, ADMIN);
    for (;;) {
      await sleep(20);
      const s = await summary(url);
      if ((s.jobs.completed ?? 0) + (s.jobs.failed ?? 0) - done0 >= n) break;
    }
    const seconds = (performance.now() - t0) / 1000;
    const serverCpuUs = ((cpuMs(serverPid) - cpu0) * 1000) / n;
    const botCpuUs = ((bots.reduce((a, b) => a + cpuMs(b.proc.pid!), 0) - botCpu0) * 1000) / n;
    return {
      jobsPerSecond: n / seconds,
      botPeakMb: Math.max(...bots.map((b) => memoryOf(b.proc.pid!).peakMb)),
      serverCpuUs,
      botCpuUs,
    };
  } finally {
    await Promise.all(bots.map((b) => b.stop(8000)));
  }
}

async function main(): Promise<void> {
  const usage =
    'node --import tsx bench/memory.ts [rounds=2] [n=10000] [drains=2] [A flags] [B flags]   flags: "server:--x=1,--y bot:--z=2" ("-" for none)';
  const [roundsArg, nArg, drainsArg, fa, fb] = scriptArgs(usage);
  const rounds = countArg(usage, 'rounds', roundsArg, 2);
  const n = countArg(usage, 'n', nArg, 10000);
  const drains = countArg(usage, 'drains', drainsArg, 2);
  const configs: [string, Flags][] = [
    ['A', parseFlags(fa, { server: [], bot: [] })],
    ['B', parseFlags(fb, { server: [...SERVER_NODE_FLAGS], bot: [...BOT_NODE_FLAGS] })],
  ];
  for (const [name, f] of configs)
    process.stdout.write(`${name}: server ${f.server.join(' ') || '(none)'}; bot ${f.bot.join(' ') || '(none)'}\n`);
  const rates: Record<string, number[]> = { A: [], B: [] };
  const cpu: Record<string, { server: number[]; bot: number[] }> = {
    A: { server: [], bot: [] },
    B: { server: [], bot: [] },
  };
  try {
    for (let r = 0; r < rounds; r++) {
      for (const [name, f] of configs) {
        const server = await startBenchServer({ nodeArgs: f.server });
        try {
          const startMb = memoryOf(server.proc.pid!).rssMb;
          const parts: string[] = [];
          let botPeak = 0;
          for (let d = 0; d < drains; d++) {
            const x = await drain(server.url, server.proc.pid!, n, f, `mem${name}${r}${d}`);
            rates[name].push(x.jobsPerSecond);
            cpu[name].server.push(x.serverCpuUs);
            cpu[name].bot.push(x.botCpuUs);
            botPeak = Math.max(botPeak, x.botPeakMb);
            parts.push(
              `${Math.round(x.jobsPerSecond)} jobs/s (CPU per job: server ${Math.round(x.serverCpuUs)} µs, bots ${Math.round(x.botCpuUs)} µs)`,
            );
          }
          const peak = memoryOf(server.proc.pid!).peakMb;
          process.stdout.write(
            `round ${r + 1} ${name}: ${parts.join(', ')}; server ${startMb.toFixed(0)} MB at start, peak ${peak.toFixed(0)} MB; bot peak ${botPeak.toFixed(0)} MB\n`,
          );
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    removeBenchDirs();
  }
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  process.stdout.write(
    `mean jobs/s: A ${Math.round(mean(rates.A))}, B ${Math.round(mean(rates.B))} (B/A ${(mean(rates.B) / mean(rates.A)).toFixed(2)})\n`,
  );
  for (const who of ['server', 'bot'] as const) {
    const a = mean(cpu.A[who]);
    const b = mean(cpu.B[who]);
    process.stdout.write(
      `mean ${who} CPU per job: A ${Math.round(a)} µs, B ${Math.round(b)} µs (B/A ${(b / a).toFixed(2)})\n`,
    );
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
