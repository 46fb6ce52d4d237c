/**
 * Cluster benchmark (a script, not a test): what the Redis registry costs a
 * REST client, and whether the 409 rules hold under a race. Side by side in
 * one run on this machine: one gateway alone, then three gateways joined to a
 * local redis-server (production build, embedded server off). Each does
 * `--n` `/call/startup`s (`--concurrency` at a time; in the cluster spread
 * round-robin over the nodes) to a far end that never answers, each call
 * terminated once its startup answered; the latency of the startup answer is
 * recorded (p50 / p99 / max). Then `--races` rounds of 50 simultaneous
 * startups of one stream spread over the three nodes: the answers per round
 * (exactly one 200 expected).
 *
 *   npx tsx bench/cluster-startup.ts [--n 300] [--concurrency 10] [--races 10] [--out bench/results]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startRedis } from '../test/helpers/redis.js';
import { restPost } from './lib/host.js';
import { ROOT, runBench, gitCommit, waitFor, type Closer } from './lib/run.js';
import { startBenchGateway, type BenchGateway } from './lib/gateway.js';

const { values: argv } = parseArgs({
  options: {
    n: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '10' },
    races: { type: 'string', default: '10' },
    out: { type: 'string', default: path.join(ROOT, 'bench', 'results') },
  },
});
const n = Number(argv.n);
const concurrency = Number(argv.concurrency);
const races = Number(argv.races);
const log = (s: string): void => void process.stderr.write(`[cluster] ${s}\n`);
const closers: Closer[] = [];

interface Latency {
  p50: number;
  p99: number;
  max: number;
  ok: number;
}

function latency(ms: number[], ok: number): Latency {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number): number => Math.round((s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN) * 10) / 10;
  return { p50: at(0.5), p99: at(0.99), max: at(1), ok };
}

/** `n` startups over `nodes` round-robin, `concurrency` at a time; each call terminated once its startup answered. */
async function startups(nodes: BenchGateway[], tag: string): Promise<Latency> {
  const times: number[] = [];
  let ok = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) {
      const gw = nodes[i % nodes.length] as BenchGateway;
      const t0 = performance.now();
      const r = await restPost(gw.base, '/call/startup', { callee: 'sip:nobody@127.0.0.1:9', toStream: `${tag}_${i}`, hasVideo: false });
      times.push(performance.now() - t0);
      if (r.status !== 200) continue;
      ok++;
      await restPost(gw.base, '/call/terminate', { callId: (r.body as { callId: string }).callId });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return latency(times, ok);
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), 'bench-cluster-'));
  closers.push(async () => rmSync(work, { recursive: true, force: true }));
  const common = { work, embedded: false, rtpPorts: 400, idleS: 1 };

  log('one gateway alone');
  const single = await startBenchGateway({ ...common, name: 'single' });
  closers.push(single.stop);
  await startups([single], 'warm');
  const alone = await startups([single], 'single');
  await single.stop();

  log('three gateways on redis-server');
  const redis = await startRedis();
  closers.push(redis.stop);
  const nodes: BenchGateway[] = [];
  for (const id of ['a', 'b', 'c']) {
    const gw = await startBenchGateway({ ...common, name: id, extra: { nodeId: id, cluster: { redisUrl: redis.url, name: 'bench' } } });
    closers.push(gw.stop);
    await waitFor(async () => ((await (await fetch(`${gw.base}/healthz`)).json()) as { cluster: string }).cluster === 'ready', 10_000, `${id} in the cluster`);
    nodes.push(gw);
  }
  await startups(nodes, 'warm_c');
  const cluster = await startups(nodes, 'cluster');

  log(`${races} races of 50 startups of one stream`);
  const rounds: { ok: number; conflict: number; other: number }[] = [];
  for (let r = 0; r < races; r++) {
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => restPost((nodes[i % 3] as BenchGateway).base, '/call/startup', {
      callee: 'sip:nobody@127.0.0.1:9', toStream: `race_${r}`, hasVideo: false,
    })));
    rounds.push({
      ok: answers.filter((a) => a.status === 200).length,
      conflict: answers.filter((a) => a.status === 409).length,
      other: answers.filter((a) => a.status !== 200 && a.status !== 409).length,
    });
    // Any node terminates a call of the cluster (forwarded to its owner).
    for (const a of answers.filter((x) => x.status === 200)) {
      await restPost((nodes[0] as BenchGateway).base, '/call/terminate', { callId: (a.body as { callId: string }).callId });
    }
  }
  for (const g of nodes) await g.stop();
  await redis.stop();

  const result = {
    date: new Date().toISOString(), commit: await gitCommit(), cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?',
    n, concurrency, single: alone, cluster, races: rounds,
  };
  mkdirSync(argv.out!, { recursive: true });
  writeFileSync(path.join(argv.out!, 'cluster-startup.json'), `${JSON.stringify(result, null, 2)}\n`);
  const md = [
    `# Cluster: REST startup latency and the 409 race (${result.date}, commit ${result.commit}, ${result.cpus} × ${result.cpuModel})`,
    '',
    `${n} \`/call/startup\`s, ${concurrency} at a time, each call terminated once answered; the cluster's spread round-robin over three nodes on one local redis-server.`,
    '',
    '| setup | answered 200 | p50 ms | p99 ms | max ms |',
    '|---|---|---|---|---|',
    `| one node (in-memory registry) | ${alone.ok} / ${n} | ${alone.p50} | ${alone.p99} | ${alone.max} |`,
    `| three nodes on Redis | ${cluster.ok} / ${n} | ${cluster.p50} | ${cluster.p99} | ${cluster.max} |`,
    '',
    `409 race: ${races} rounds of 50 simultaneous startups of one stream over the three nodes.`,
    '',
    '| round | 200 | 409 | other |',
    '|---|---|---|---|',
    ...rounds.map((r, i) => `| ${i + 1} | ${r.ok} | ${r.conflict} | ${r.other} |`),
    '',
  ].join('\n');
  writeFileSync(path.join(argv.out!, 'cluster-startup.md'), md);
  process.stdout.write(md);
}

runBench(main, closers);
