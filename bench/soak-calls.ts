/**
 * Soak benchmark (a script, not a test): does the gateway give back what its
 * calls took? `--cycles` calls, `--parallel` at a time, each started through
 * REST against the light far end (bench/light-far-end.ts, H.264 + PCMA), held
 * `--hold-ms` while it streams to the embedded server, then terminated. Every
 * `--every` cycles the loops pause until no call is live, and the gateway's
 * heap, RSS, external memory, open file descriptors and active handles are
 * read from /metrics (the lowest of three readings 1 s apart, so a GC in
 * flight does not count). Flat means the last checkpoints sit where the
 * first ones after warm-up did.
 *
 *   npx tsx bench/soak-calls.ts [--cycles 1000] [--parallel 8] [--hold-ms 2000] [--every 100] [--out bench/results]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freeUdpPort } from '../test/helpers/ports.js';
import { stopChild } from '../test/helpers/proc.js';
import { waitUntil } from '../test/helpers/wait.js';
import { makeBenchMedia } from './lib/media.js';
import { liveCalls, restPost } from './lib/host.js';
import { ROOT, spawnLogged, tail, runBench, gitCommit, type Closer } from './lib/run.js';
import { readMetrics, startBenchGateway, type BenchGateway } from './lib/gateway.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (s: string): void => void process.stderr.write(`[soak] ${s}\n`);

const { values: argv } = parseArgs({
  options: {
    cycles: { type: 'string', default: '1000' },
    parallel: { type: 'string', default: '8' },
    'hold-ms': { type: 'string', default: '2000' },
    every: { type: 'string', default: '100' },
    out: { type: 'string', default: path.join(ROOT, 'bench', 'results') },
  },
});
const cycles = Number(argv.cycles);
const parallel = Number(argv.parallel);
const holdMs = Number(argv['hold-ms']);
const every = Number(argv.every);
if (!(cycles >= every) || !(parallel >= 1) || !(holdMs >= 0) || !(every >= 1)) throw new Error('bad arguments');

const closers: Closer[] = [];
const work = mkdtempSync(path.join(tmpdir(), 'bench-soak-'));
closers.push(async () => (process.env.BENCH_KEEP ? undefined : rmSync(work, { recursive: true, force: true })));

interface Checkpoint {
  cycles: number;
  heapUsedMiB: number;
  rssMiB: number;
  externalMiB: number;
  openFds: number;
  activeHandles: number;
  failed: number;
  elapsedS: number;
}

/** The lowest of three readings 1 s apart (a GC in flight does not count). */
async function reading(gw: BenchGateway): Promise<Omit<Checkpoint, 'cycles' | 'failed' | 'elapsedS'>> {
  const rs: Omit<Checkpoint, 'cycles' | 'failed' | 'elapsedS'>[] = [];
  for (let i = 0; i < 3; i++) {
    const m = await readMetrics(gw);
    rs.push({
      heapUsedMiB: m('gateway_nodejs_heap_size_used_bytes') / 2 ** 20,
      rssMiB: m('gateway_process_resident_memory_bytes') / 2 ** 20,
      externalMiB: m('gateway_nodejs_external_memory_bytes') / 2 ** 20,
      openFds: m('gateway_process_open_fds'),
      activeHandles: m('gateway_nodejs_active_handles_total'),
    });
    await sleep(1000);
  }
  const min = (k: keyof (typeof rs)[number]): number => Math.min(...rs.map((r) => r[k]));
  return { heapUsedMiB: min('heapUsedMiB'), rssMiB: min('rssMiB'), externalMiB: min('externalMiB'), openFds: min('openFds'), activeHandles: min('activeHandles') };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const commit = await gitCommit();
  const media = await makeBenchMedia(path.join(tmpdir(), 'sip-rtmp-bench-media-640x360-800'), {
    width: 640, height: 360, fps: 25, bitrate: 800_000, gopS: 2, clipS: 12, totalS: 120,
  });
  const farPort = await freeUdpPort();
  const far = spawnLogged(work, process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'light-far-end.ts'), '--sip-port', String(farPort), '--media', media.dir], 'far-end.log');
  closers.push(() => stopChild(far.child, far.exited, 5000));
  await waitUntil(() => tail(far.log).includes(`ready ${farPort}`), 20_000, 100, 'light far end did not start');
  const gw = await startBenchGateway({ work, embedded: true, rtpPorts: 4 * parallel + 40, idleS: 3, name: 'gateway-soak' });
  closers.push(gw.stop);
  log(`gateway up (pid ${gw.pid})`);

  const points: Checkpoint[] = [{ cycles: 0, ...(await reading(gw)), failed: 0, elapsedS: 0 }];
  let next = 0;
  let failed = 0;
  const failures: string[] = [];
  const one = async (k: number): Promise<void> => {
    const callId = `soak-${k}`;
    const a = await restPost(gw.base, '/call/startup', { callId, callee: `sip:light@127.0.0.1:${farPort}`, toStream: `soak_${k}` });
    if (a.status !== 200) {
      failed++;
      if (failures.length < 10) failures.push(`cycle ${k}: startup ${a.status}`);
      return;
    }
    const ok = await waitUntil(async () => (await liveCalls(gw.base)).some((c) => c.callId === callId && c.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE'),
      10_000, 100, 'active')
      .then(() => true, () => false);
    if (!ok) {
      failed++;
      if (failures.length < 10) failures.push(`cycle ${k}: not RTMP_STREAM_ACTIVE within 10 s`);
    }
    await sleep(holdMs);
    await restPost(gw.base, '/call/terminate', { callId });
  };
  while (next < cycles) {
    const batchEnd = Math.min(cycles, next + every);
    const workers = Array.from({ length: parallel }, async () => {
      while (next < batchEnd) await one(next++);
    });
    await Promise.all(workers);
    await waitUntil(async () => (await liveCalls(gw.base)).length === 0, 20_000, 200, 'calls still live').catch((e: Error) => failures.push(e.message));
    await sleep(2000);
    const p: Checkpoint = { cycles: next, ...(await reading(gw)), failed, elapsedS: (performance.now() - t0) / 1000 };
    points.push(p);
    log(`${p.cycles} cycles: heap ${p.heapUsedMiB.toFixed(1)} MiB, RSS ${p.rssMiB.toFixed(0)} MiB, external ${p.externalMiB.toFixed(1)} MiB, ` +
      `fds ${p.openFds}, handles ${p.activeHandles}, failed ${failed}`);
  }
  const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '–');
  // Warm-up: the first checkpoint with calls behind it; growth: last three against the first three after it.
  const after = points.slice(1);
  const avg = (ps: Checkpoint[], k: 'heapUsedMiB' | 'rssMiB'): number => ps.reduce((a, p) => a + p[k], 0) / ps.length;
  const head = after.slice(0, 3);
  const tailPts = after.slice(-3);
  const span = (tailPts.at(-1)!.cycles + tailPts[0]!.cycles) / 2 - (head.at(-1)!.cycles + head[0]!.cycles) / 2;
  const heapGrowth = span > 0 ? ((avg(tailPts, 'heapUsedMiB') - avg(head, 'heapUsedMiB')) / span) * 1000 : NaN;
  const rssGrowth = span > 0 ? ((avg(tailPts, 'rssMiB') - avg(head, 'rssMiB')) / span) * 1000 : NaN;
  const result = {
    date: new Date().toISOString(), commit, machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '?', node: process.version },
    params: { cycles, parallel, holdMs, every }, points, failures, heapGrowthMiBPer1000: heapGrowth, rssGrowthMiBPer1000: rssGrowth,
    totalS: (performance.now() - t0) / 1000,
  };
  const md = [
    `# Soak benchmark (${result.date})`, '',
    `${cycles} call cycles, ${parallel} at a time: startup → RTMP_STREAM_ACTIVE on the embedded server → ${holdMs} ms of H.264 640x360 + PCMA → AAC ` +
      `(light far end) → terminate. Every ${every} cycles, with no call live, the lowest of three /metrics readings 1 s apart.`, '',
    '| cycles | heap used MiB | RSS MiB | external MiB | open fds | active handles | failed so far | elapsed s |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...points.map((p) => `| ${p.cycles} | ${f1(p.heapUsedMiB)} | ${f1(p.rssMiB)} | ${f1(p.externalMiB)} | ${p.openFds} | ${p.activeHandles} | ${p.failed} | ${f1(p.elapsedS)} |`),
    '',
    `- Growth per 1,000 cycles, the last three checkpoints against the first three: heap ${f1(heapGrowth)} MiB, RSS ${f1(rssGrowth)} MiB.`,
    ...(failures.length ? [`- Failures: ${failures.join('; ')}`] : []),
    '',
    `Machine: ${result.machine.cpus} × ${result.machine.model}, Node ${result.machine.node}. Code: ${commit}. Run took ${result.totalS.toFixed(0)} s.`, '',
  ].join('\n');
  mkdirSync(argv.out!, { recursive: true });
  writeFileSync(path.join(argv.out!, 'soak-calls.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(path.join(argv.out!, 'soak-calls.md'), md);
  process.stdout.write(md);
}

runBench(main, closers);
