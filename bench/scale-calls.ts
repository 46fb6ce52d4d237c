/**
 * Scale benchmark (a script, not a test): how many concurrent calls one
 * gateway holds on this machine. One light far end process
 * (bench/light-far-end.ts) answers every call and replays the same H.264 +
 * PCMA RTP to each; every call publishes to one nginx-rtmp (and to the
 * gateway's embedded server unless --no-embedded). Calls are added in steps
 * (`--n`), `--rate` startups per second; at each step, after a warm-up, one
 * window measures the gateway (node + embedded server), the far end, RTP
 * loss, UDP drops, event-loop lag and what nginx received per call. A call is
 * held when it is ESTABLISHED / RTMP_STREAM_ACTIVE and nginx received at least
 * 90 % of the media's bitrate from it in the window; the run stops at the
 * first step where a call is not held, or where RTP is lost or dropped.
 *
 *   npx tsx bench/scale-calls.ts [--n 25,50,100,150,200,300] [--window 10] [--warmup 3]
 *                                [--size 640x360] [--kbps 800] [--rate 20] [--no-embedded] [--no-hls] [--out bench/results]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startNginxRtmp, type NginxRtmp } from '../test/helpers/nginx.js';
import { freeUdpPort } from '../test/helpers/ports.js';
import { stopChild } from '../test/helpers/proc.js';
import { waitUntil } from '../test/helpers/wait.js';
import { makeBenchMedia } from './lib/media.js';
import { hostBusyPct, hostCpu, liveCalls, nginxBytesIn, restPost, sampleProcs, udpDrops } from './lib/host.js';
import { ROOT, spawnLogged, tail, runBench, gitCommit, type Closer } from './lib/run.js';
import { readMetrics, startBenchGateway } from './lib/gateway.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (s: string): void => void process.stderr.write(`[scale] ${s}\n`);

const { values: argv } = parseArgs({
  options: {
    n: { type: 'string', default: '25,50,100,150,200,300' },
    window: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    size: { type: 'string', default: '640x360' },
    kbps: { type: 'string', default: '800' },
    rate: { type: 'string', default: '20' },
    out: { type: 'string', default: path.join(ROOT, 'bench', 'results') },
    'no-embedded': { type: 'boolean', default: false },
    'no-hls': { type: 'boolean', default: false },
  },
});
const steps = (argv.n ?? '').split(',').map(Number);
const windowS = Number(argv.window);
const warmupS = Number(argv.warmup);
const rate = Number(argv.rate);
const embedded = !argv['no-embedded'];
const [width = 0, height = 0] = (argv.size ?? '').split('x').map(Number);
if (steps.some((n, i) => !(n >= 1) || (i > 0 && n <= steps[i - 1]!)) || !(windowS > 0) || !(rate > 0) || !width || !height) throw new Error('bad arguments');

const closers: Closer[] = [];
const work = mkdtempSync(path.join(tmpdir(), 'bench-scale-'));
closers.push(async () => (process.env.BENCH_KEEP ? undefined : rmSync(work, { recursive: true, force: true })));

/** One step's measurements. */
interface Step {
  n: number;
  held: number;
  failures: string[];
  /** Seconds from the first to the last startup answer of this step's new calls, and until all were active. */
  setupS: { answered: number; active: number };
  gatewayCpuPct: number;
  embeddedCpuPct: number;
  cpuPerCallPct: number;
  gatewayRssMiB: number;
  rssPerCallMiB: number;
  farEndCpuPct: number;
  rtpLost: number;
  udpDrops: number;
  eventLoopLagP99Ms: number;
  nginxKbps: { mean: number; min: number };
  hostBusyPct: number;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const commit = await gitCommit();
  const maxN = steps.at(-1)!;
  const media = await makeBenchMedia(path.join(tmpdir(), `sip-rtmp-bench-media-${width}x${height}-${argv.kbps}`), {
    width, height, fps: 25, bitrate: Number(argv.kbps) * 1000, gopS: 2, clipS: 12, totalS: 120,
  });
  const nginx: NginxRtmp = await startNginxRtmp();
  closers.push(() => nginx.close());
  const farPort = await freeUdpPort();
  const far = spawnLogged(work, process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'light-far-end.ts'), '--sip-port', String(farPort), '--media', media.dir], 'far-end.log');
  closers.push(() => stopChild(far.child, far.exited, 5000));
  await waitUntil(() => tail(far.log).includes(`ready ${farPort}`), 20_000, 100, 'light far end did not start').catch((e: Error) => {
    throw new Error(`${e.message}\n${tail(far.log)}`);
  });
  const loadBefore = loadavg();
  const gw = await startBenchGateway({ work, embedded, hls: !argv['no-hls'], rtpPorts: 4 * maxN + 40, idleS: 5, name: 'gateway-scale' });
  closers.push(gw.stop);
  log(`gateway up (pid ${gw.pid}), idle ${gw.idle.cpuPct.toFixed(1)} % CPU, ${gw.idle.rssMeanMiB.toFixed(0)} MiB; far end pid ${far.child.pid}`);

  const out: Step[] = [];
  let started = 0;
  let stopped: string | null = null;
  for (const n of steps) {
    const failures: string[] = [];
    const s0 = performance.now();
    // Startups paced at `rate` per second.
    const answers: Promise<void>[] = [];
    for (let i = started; i < n; i++) {
      const k = i;
      answers.push(restPost(gw.base, '/call/startup', {
        callId: `scale-${k}`, callee: `sip:light@127.0.0.1:${farPort}`, toStream: `scale_${k}`, rtmpUrl: nginx.rtmpUrl, rtmpStream: `scale_${k}`,
      }).then((a) => void (a.status !== 200 && failures.push(`call ${k}: startup ${a.status} ${JSON.stringify(a.body)}`))));
      await sleep(1000 / rate);
    }
    await Promise.all(answers);
    const answeredS = (performance.now() - s0) / 1000;
    started = n;
    const ids = Array.from({ length: n }, (_, k) => k);
    await waitUntil(async () => {
      const live = await liveCalls(gw.base);
      const pubs = new Set(await nginx.publishers());
      return live.filter((c) => c.status === 'ESTABLISHED' && c.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE').length === n && ids.every((k) => pubs.has(`scale_${k}`));
    }, 60_000, 250, 'calls active').catch((e: Error) => failures.push(e.message));
    const activeS = (performance.now() - s0) / 1000;
    await sleep(warmupS * 1000);

    const m0 = await readMetrics(gw);
    const b0 = await nginxBytesIn(nginx);
    const h0 = hostCpu();
    const w0 = performance.now();
    const drops0 = udpDrops((p) => p >= gw.rtpMin && p <= gw.rtpMax);
    const pids = [gw.pid, ...(gw.embeddedPid === undefined ? [] : [gw.embeddedPid]), far.child.pid!];
    const { summaries } = await sampleProcs(pids, windowS);
    const seconds = (performance.now() - w0) / 1000;
    const b1 = await nginxBytesIn(nginx);
    const m1 = await readMetrics(gw);
    const busy = hostBusyPct(h0, hostCpu());
    const drops = udpDrops((p) => p >= gw.rtpMin && p <= gw.rtpMax) - drops0;
    const lost = ['audio', 'video'].reduce((a, k) => a + m1(`gateway_rtp_lost_total{kind="${k}"}`) - m0(`gateway_rtp_lost_total{kind="${k}"}`), 0);
    const live = new Map((await liveCalls(gw.base)).map((c) => [c.callId, c]));
    const kbps = ids.map((k) => (((b1.get(`scale_${k}`) ?? 0) - (b0.get(`scale_${k}`) ?? 0)) * 8) / seconds / 1000);
    let held = 0;
    ids.forEach((k) => {
      const c = live.get(`scale-${k}`);
      if (c?.status === 'ESTABLISHED' && c.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE' && kbps[k]! >= 0.9 * media.videoKbps) held++;
      else if (failures.length < 20) failures.push(`call ${k}: ${c ? `${c.status}/${c.rtmpStreamStatus}` : 'ended'}, ${kbps[k]!.toFixed(0)} kbit/s at nginx`);
    });
    const node = summaries.get(gw.pid);
    const emb = gw.embeddedPid === undefined ? undefined : summaries.get(gw.embeddedPid);
    const farEnd = summaries.get(far.child.pid!);
    if (!node) throw new Error(`gateway exited\n${tail(gw.log)}`);
    const gatewayCpu = node.cpuPct + (emb?.cpuPct ?? 0);
    const gatewayRss = node.rssMeanMiB + (emb?.rssMeanMiB ?? 0);
    const step: Step = {
      n, held, failures, setupS: { answered: answeredS, active: activeS },
      gatewayCpuPct: node.cpuPct, embeddedCpuPct: emb?.cpuPct ?? 0,
      cpuPerCallPct: (gatewayCpu - gw.idle.cpuPct - (gw.embeddedIdle?.cpuPct ?? 0)) / n,
      gatewayRssMiB: gatewayRss,
      rssPerCallMiB: (gatewayRss - gw.idle.rssMeanMiB - (gw.embeddedIdle?.rssMeanMiB ?? 0)) / n,
      farEndCpuPct: farEnd?.cpuPct ?? NaN,
      rtpLost: lost, udpDrops: drops,
      eventLoopLagP99Ms: m1('gateway_nodejs_eventloop_lag_p99_seconds') * 1000,
      nginxKbps: { mean: kbps.reduce((a, b) => a + b, 0) / n, min: Math.min(...kbps) },
      hostBusyPct: busy,
    };
    out.push(step);
    log(`N=${n}: held ${held}, gateway ${gatewayCpu.toFixed(0)} % CPU (${step.cpuPerCallPct.toFixed(2)} %/call), ` +
      `RSS ${gatewayRss.toFixed(0)} MiB (${step.rssPerCallMiB.toFixed(1)}/call), far end ${step.farEndCpuPct.toFixed(0)} %, lost ${lost}, drops ${drops}`);
    if (held < n || drops > 0 || lost > 0) {
      stopped = `at N = ${n}: ${held} of ${n} held, ${lost} RTP packets lost, ${drops} datagrams dropped`;
      break;
    }
  }
  const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '–');
  const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '–');
  const result = {
    date: new Date().toISOString(), commit,
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '?', node: process.version, loadavgBefore: loadBefore, loadavgAfter: loadavg() },
    media: { width, height, fps: 25, videoKbps: media.videoKbps, videoPps: media.videoPps, audio: 'PCMA 8 kHz, 20 ms' },
    params: { steps, windowS, warmupS, rate, embedded },
    gatewayIdle: { node: gw.idle, embedded: gw.embeddedIdle }, steps: out, stopped, totalS: (performance.now() - t0) / 1000,
  };
  const md = [
    `# Scale benchmark (${result.date})`, '',
    `Concurrent calls on one gateway (production build), each H.264 ${width}x${height} 25 fps (${f1(media.videoKbps)} kbit/s of RTP) + PCMA → AAC, ` +
      `from one light far end process (bench/light-far-end.ts), published to nginx-rtmp${embedded ? ' and to the embedded server' : ''}; ` +
      `startups at ${rate}/s, ${warmupS} s warm-up, ${windowS} s window per step. CPU in % of one core (2 cores = 200 %); ` +
      'gateway = node process + embedded server process; per call = (gateway − idle) / N. Held: ESTABLISHED / RTMP_STREAM_ACTIVE and ≥ 90 % of the bitrate at nginx.', '',
    '| N | held | gateway CPU % (node + embedded) | per call % | gateway RSS MiB | per call MiB | far end CPU % | RTP lost | UDP drops | event-loop lag p99 ms | nginx kbit/s per call (min) | startups answered / all active s | host busy % |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...out.map((s) => `| ${s.n} | ${s.held} | ${f1(s.gatewayCpuPct + s.embeddedCpuPct)} (${f1(s.gatewayCpuPct)} + ${f1(s.embeddedCpuPct)}) | ` +
      `**${f2(s.cpuPerCallPct)}** | ${f1(s.gatewayRssMiB)} | **${f1(s.rssPerCallMiB)}** | ${f1(s.farEndCpuPct)} | ${s.rtpLost} | ${s.udpDrops} | ` +
      `${f1(s.eventLoopLagP99Ms)} | ${f1(s.nginxKbps.mean)} (${f1(s.nginxKbps.min)}) | ${f1(s.setupS.answered)} / ${f1(s.setupS.active)} | ${f1(s.hostBusyPct)} |`),
    '',
    ...(stopped ? [`- Stopped: ${stopped}.`] : []),
    ...out.filter((s) => s.failures.length > 0).map((s) => `- N = ${s.n}: ${s.failures.slice(0, 5).join('; ')}${s.failures.length > 5 ? ` (+${s.failures.length - 5} more)` : ''}`),
    '',
    `Gateway idle: node ${f1(gw.idle.cpuPct)} % / ${f1(gw.idle.rssMeanMiB)} MiB` +
      (gw.embeddedIdle ? `, embedded server ${f1(gw.embeddedIdle.cpuPct)} % / ${f1(gw.embeddedIdle.rssMeanMiB)} MiB` : '') +
      `. Machine: ${result.machine.cpus} × ${result.machine.model}, Node ${result.machine.node}, load average ${loadBefore.map(f2).join(' ')} before. ` +
      `Code: ${commit}. Run took ${result.totalS.toFixed(0)} s.`, '',
  ].join('\n');
  mkdirSync(argv.out!, { recursive: true });
  writeFileSync(path.join(argv.out!, 'scale-calls.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(path.join(argv.out!, 'scale-calls.md'), md);
  process.stdout.write(md);
}

runBench(main, closers);
