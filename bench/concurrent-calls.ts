/**
 * Concurrent-calls benchmark (a script, not a test): N concurrent H.264 +
 * G.711 calls (~1 Mbit/s each) held for a fixed window on the gateway, then
 * the same RTP through N plain ffmpeg relays, side by side. For each N and
 * side: calls held, CPU and RSS per call, startup → first keyframe on RTMP,
 * and RTP-in → RTMP-out video latency of one call.
 *
 * - Gateway: `node dist/main.js` (the production build) as a child process (log warn,
 *   webhook disabled, rest.maxCalls high, a wide RTP port range), started
 *   once for all N; N SIPp UAS far ends (`uas-answer.xml` in the bench media
 *   folder, bench/lib/sipp.ts), one per call; every call publishes to one
 *   nginx-rtmp (and to the gateway's embedded server).
 * - Relay: per call an ffmpeg reading an SDP (video copy, audio → AAC,
 *   as bench/one-call.ts) fed by a SIPp UAC (`uac-plain.xml`, offering
 *   ffmpeg's ports) calling a SIPp UAS — the same RTP.
 * - First keyframe: an RTMP player per call subscribes to its nginx stream
 *   before the call starts (concurrent-rtmp-player.ts). Latency: tcpdump of
 *   the first call's video RTP vs. the tags that player receives
 *   (concurrent-latency.ts).
 *
 * N grows through `--n` and stops once a side fails to hold all its calls.
 * Every process is stopped by its own PID at the end, also on failure or
 * Ctrl-C. Needs ROOT (tcpdump), ffmpeg, sipp, nginx with the RTMP module.
 *
 *   npx tsx bench/concurrent-calls.ts [--n 1,4,8] [--window 20] [--warmup 3] [--idle 5]
 *                                     [--size 1280x720] [--kbps 1000] [--out bench/results] [--no-embedded]
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startNginxRtmp, type NginxRtmp } from '../test/helpers/nginx.js';
import { freeUdpPort, freeUdpPortRange } from '../test/helpers/ports.js';
import { run, stopChild } from '../test/helpers/proc.js';
import { udpPortBound } from '../test/helpers/sipp.js';
import { waitUntil } from '../test/helpers/wait.js';
import { sippScenarioDir } from '../test/fixtures/make-media.js';
import { makeBenchMedia, type BenchMedia } from './lib/media.js';
import { childrenNamed, type ProcSummary } from './lib/procstat.js';
import { startBenchSipp, type BenchSipp } from './lib/sipp.js';
import { captureRtp, pairLatencies, type RtpCapture } from './lib/latency.js';
import { playRtmp, type RtmpPlayer } from './lib/rtmp-player.js';
import { dist, renderConcurrentMarkdown, type ConcurrentResult, type SideRun } from './lib/concurrent-report.js';
import { hostBusyPct, hostCpu, liveCalls, nginxBytesIn, restPost, sampleProcs, udpDrops } from './lib/host.js';
import { ROOT, spawnLogged, tail, runBench, gitCommit, type Closer } from './lib/run.js';
import { startBenchGateway, type BenchGateway } from './lib/gateway.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (s: string): void => void process.stderr.write(`[concurrent] ${s}\n`);

const { values: argv } = parseArgs({
  options: {
    n: { type: 'string', default: '1,4,8' },
    window: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    idle: { type: 'string', default: '5' },
    size: { type: 'string', default: '1280x720' },
    kbps: { type: 'string', default: '1000' },
    out: { type: 'string', default: path.join(ROOT, 'bench', 'results') },
    'no-embedded': { type: 'boolean', default: false },
  },
});
const ns = (argv.n ?? '').split(',').map(Number);
const windowS = Number(argv.window);
const warmupS = Number(argv.warmup);
const idleS = Number(argv.idle);
const embedded = !argv['no-embedded'];
const [width = 0, height = 0] = (argv.size ?? '').split('x').map(Number);
if (ns.some((n) => !(n >= 1)) || !(windowS > 0) || !(warmupS >= 0) || !(idleS > 0) || !width || !height) throw new Error('bad arguments');
/** How long calls get to publish before the ones not yet publishing count as failed. */
const SETUP_TIMEOUT_MS = 30_000;

/** Things to stop at the end, newest first; each stops one process by its PID. */
const closers: Closer[] = [];
const work = mkdtempSync(path.join(tmpdir(), 'bench-concurrent-'));
closers.push(async () => (process.env.BENCH_KEEP ? undefined : rmSync(work, { recursive: true, force: true })));



/** A far end whose media port is known (video RTP leaves from mediaPort + 2). */
interface FarEnd { sipp: BenchSipp; mediaPort: number }

async function farEnd(media: BenchMedia, scenario: string, extra: { remote?: string; vars?: Record<string, string> } = {}): Promise<FarEnd> {
  const mediaPort = await freeUdpPortRange(4);
  const sipp = await startBenchSipp({
    scenario: path.join(sippScenarioDir, scenario), cwd: media.dir, sipPort: await freeUdpPort(), mediaPort,
    ...(extra.remote ? { remote: extra.remote, durationMs: 600_000 } : {}), vars: extra.vars,
  });
  closers.push(() => sipp.close());
  return { sipp, mediaPort };
}

/** Players subscribed to `streams` on nginx before publishing starts; only the first keeps its tags (latency). */
async function players(nginx: NginxRtmp, streams: string[]): Promise<RtmpPlayer[]> {
  const ps = streams.map((s, i) => playRtmp(nginx.rtmpUrl, s, { keepTags: i === 0 }));
  closers.push(async () => ps.forEach((p) => p.close()));
  await Promise.all(ps.map((p) => p.ready));
  return ps;
}

type Gateway = BenchGateway;

let gateways = 0;
async function startGateway(): Promise<Gateway> {
  const gw = await startBenchGateway({ work, embedded, rtpPorts: 400, idleS, name: `gateway-${++gateways}` });
  closers.push(gw.stop);
  return gw;
}

/** What a window measured on one side. */
interface Window { fromMs: number; toMs: number; kbps: Map<string, number>; busy: number; procs: Map<number, ProcSummary> }

async function measureWindow(nginx: NginxRtmp, pids: number[]): Promise<Window> {
  const b0 = await nginxBytesIn(nginx);
  const h0 = hostCpu();
  const fromMs = Date.now();
  const { summaries } = await sampleProcs(pids, windowS);
  const toMs = Date.now();
  const b1 = await nginxBytesIn(nginx);
  const kbps = new Map([...b1].map(([s, b]) => [s, ((b - (b0.get(s) ?? 0)) * 8) / ((toMs - fromMs) / 1000) / 1000]));
  return { fromMs, toMs, kbps, busy: hostBusyPct(h0, hostCpu()), procs: summaries };
}

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

/** Waits up to a few seconds for the players of active calls to see a keyframe; startup → first keyframe per call. */
async function firstKeys(ps: RtmpPlayer[], t0: number[], active: boolean[]): Promise<number[]> {
  await waitUntil(() => ps.every((p, i) => !active[i] || p.firstKeyAtMs !== null), 5000, 50, 'keyframes').catch(() => undefined);
  const out: number[] = [];
  ps.forEach((p, i) => {
    if (p.firstKeyAtMs !== null) out.push(p.firstKeyAtMs - t0[i]!);
    if (i > 0) p.close(); // only the first call's player stays, for latency
  });
  return out;
}

/** (a) N calls on the gateway. */
async function gatewayRun(gw: Gateway, nginx: NginxRtmp, media: BenchMedia, n: number): Promise<SideRun> {
  const ids = Array.from({ length: n }, (_, i) => ({ callId: `bench-cc-${n}-${i}`, stream: `gw${n}_${i}`, toStream: `cc${n}_${i}` }));
  const ps = await players(nginx, ids.map((c) => c.stream));
  const fars: FarEnd[] = [];
  for (let i = 0; i < n; i++) fars.push(await farEnd(media, 'uas-answer.xml'));
  const cap: RtpCapture = await captureRtp(fars[0]!.mediaPort + 2, work);
  closers.push(async () => void (await cap.stop().catch(() => [])));
  const t0 = ids.map(() => 0);
  const answers = await Promise.all(ids.map(async (c, i) => {
    t0[i] = Date.now();
    return restPost(gw.base, '/call/startup', {
      callId: c.callId, callee: `sip:service@127.0.0.1:${fars[i]!.sipp.sipPort}`, sipLogin: 'bench',
      toStream: c.toStream, rtmpUrl: nginx.rtmpUrl, rtmpStream: c.stream,
    });
  }));
  const failures: string[] = [];
  answers.forEach((a, i) => a.status !== 200 && failures.push(`call ${i}: startup answered ${a.status} ${JSON.stringify(a.body)}`));
  // Active: ESTABLISHED + RTMP_STREAM_ACTIVE and nginx lists the publisher; stop waiting when every call is active or over.
  let active: boolean[] = ids.map(() => false);
  const setupEnd = Date.now() + SETUP_TIMEOUT_MS;
  while (Date.now() < setupEnd) {
    const live = new Map((await liveCalls(gw.base)).map((c) => [c.callId, c]));
    const pubs = new Set(await nginx.publishers());
    active = ids.map((c) => live.get(c.callId)?.status === 'ESTABLISHED' && live.get(c.callId)?.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE' && pubs.has(c.stream));
    if (ids.every((c, i) => active[i] || !live.has(c.callId))) break;
    await sleep(200);
  }
  const keys = await firstKeys(ps, t0, active);
  log(`gateway N=${n}: ${active.filter(Boolean).length} active, first keyframes ${keys.map((k) => k.toFixed(0)).join(' ')} ms`);
  await sleep(warmupS * 1000);
  const ff = childrenNamed(gw.pid, 'ffmpeg');
  const farPids = fars.map((f) => f.sipp.pid);
  const emb = gw.embeddedPid === undefined ? [] : [gw.embeddedPid];
  const w = await measureWindow(nginx, [gw.pid, ...emb, ...ff, ...farPids]);
  const live = new Map((await liveCalls(gw.base)).map((c) => [c.callId, c]));
  const pubs = new Set(await nginx.publishers());
  let held = 0;
  ids.forEach((c, i) => {
    const call = live.get(c.callId);
    const kbps = w.kbps.get(c.stream) ?? 0;
    if (call?.status === 'ESTABLISHED' && call.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE' && pubs.has(c.stream) && kbps >= media.videoKbps / 2) held++;
    else failures.push(`call ${i}: ${call ? `${call.status}/${call.rtmpStreamStatus}` : 'ended'}, nginx ${pubs.has(c.stream) ? '' : 'not '}publishing, ${kbps.toFixed(0)} kbit/s`);
  });
  const latency = pairLatencies(await cap.stop(), ps[0]!.tags, w.fromMs, w.toMs);
  ps[0]!.close();
  const drops = udpDrops((p) => p >= gw.rtpMin && p <= gw.rtpMax);

  await Promise.all(ids.map((c) => restPost(gw.base, '/call/terminate', { callId: c.callId })));
  const ours = new Set(ids.map((c) => c.callId));
  await waitUntil(async () => !(await liveCalls(gw.base)).some((c) => ours.has(c.callId)), 15_000, 100, 'calls still live after terminate')
    .catch((e: Error) => failures.push(e.message));
  for (const f of fars) await f.sipp.close();
  await waitUntil(() => childrenNamed(gw.pid, 'ffmpeg').length === 0, 10_000, 100, 'ffmpeg children still running after the calls')
    .catch((e: Error) => failures.push(e.message));

  const node = w.procs.get(gw.pid);
  if (!node) throw new Error(`gateway exited during the window\n${tail(gw.log)}`);
  const e = gw.embeddedPid === undefined ? undefined : w.procs.get(gw.embeddedPid);
  const embeddedCpu = (e?.cpuPct ?? 0) - (gw.embeddedIdle?.cpuPct ?? 0);
  const embeddedRss = (e?.rssMeanMiB ?? 0) - (gw.embeddedIdle?.rssMeanMiB ?? 0);
  const ffs = ff.map((p) => w.procs.get(p)).filter((s): s is ProcSummary => s !== undefined);
  const ffCpu = mean(ffs.map((s) => s.cpuPct));
  const ffRss = mean(ffs.map((s) => s.rssMeanMiB));
  const kbpsList = ids.map((c) => w.kbps.get(c.stream) ?? 0);
  return {
    side: 'gateway', n, active: active.filter(Boolean).length, held, failures,
    cpuPerCallPct: (node.cpuPct - gw.idle.cpuPct + embeddedCpu) / n + (ffs.length ? ffCpu : 0),
    rssPerCallMiB: (node.rssMeanMiB - gw.idle.rssMeanMiB + embeddedRss) / n + (ffs.length ? ffRss : 0),
    totalCpuPct: node.cpuPct + (e?.cpuPct ?? 0) + sum(ffs.map((s) => s.cpuPct)),
    totalRssMiB: node.rssMeanMiB + (e?.rssMeanMiB ?? 0) + sum(ffs.map((s) => s.rssMeanMiB)),
    node: { cpuPct: node.cpuPct, rssMiB: node.rssMeanMiB, rssMaxMiB: node.rssMaxMiB, idleCpuPct: gw.idle.cpuPct, idleRssMiB: gw.idle.rssMeanMiB },
    ...(e ? { embedded: { cpuPct: e.cpuPct, rssMiB: e.rssMeanMiB, idleCpuPct: gw.embeddedIdle?.cpuPct ?? 0, idleRssMiB: gw.embeddedIdle?.rssMeanMiB ?? 0 } } : {}),
    ffmpeg: { count: ffs.length, cpuMeanPct: ffCpu, rssMeanMiB: ffRss },
    firstKeyMs: dist(keys), latency,
    rtmpKbps: { mean: mean(kbpsList), min: Math.min(...kbpsList) },
    udpDrops: drops,
    farEndCpuPct: sum(farPids.map((p) => w.procs.get(p)?.cpuPct ?? 0)),
    hostBusyPct: w.busy,
    procs: [
      { role: 'gateway node', summary: node },
      ...(e ? [{ role: 'gateway embedded server', summary: e }] : []),
      ...ffs.map((summary) => ({ role: 'gateway ffmpeg child', summary })),
      ...farPids.flatMap((p) => (w.procs.has(p) ? [{ role: 'far-end SIPp UAS', summary: w.procs.get(p)! }] : [])),
    ],
  };
}

/** The SDP a user would write for one relay: the two ports the call's media is sent to (as bench/one-call.ts). */
function relaySdp(audioPort: number, videoPort: number): string {
  return [
    'v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=relay', 'c=IN IP4 127.0.0.1', 't=0 0',
    `m=audio ${audioPort} RTP/AVP 8`, 'a=rtpmap:8 PCMA/8000', 'a=recvonly',
    `m=video ${videoPort} RTP/AVP 96`, 'a=rtpmap:96 H264/90000',
    'a=fmtp:96 profile-level-id=42e01f;packetization-mode=1', 'a=recvonly', '',
  ].join('\r\n');
}

/** (b) N plain ffmpeg relays of the same RTP. */
async function relayRun(nginx: NginxRtmp, media: BenchMedia, n: number): Promise<SideRun> {
  const streams = Array.from({ length: n }, (_, i) => `relay${n}_${i}`);
  const ps = await players(nginx, streams);
  const relays: { child: ChildProcess; exited: Promise<number | null>; log: string; audioPort: number }[] = [];
  for (const [i, s] of streams.entries()) {
    const audioPort = await freeUdpPortRange(4);
    const sdp = path.join(work, `relay-${n}-${i}.sdp`);
    writeFileSync(sdp, relaySdp(audioPort, audioPort + 2));
    const ff = spawnLogged(work, 'ffmpeg', [
      '-hide_banner', '-nostdin', '-loglevel', 'warning', '-protocol_whitelist', 'file,udp,rtp', '-i', sdp,
      '-c:v', 'copy', '-c:a', 'aac', '-b:a', '64k', '-ar', '48000', '-ac', '1', '-f', 'flv', `${nginx.rtmpUrl}/${s}`,
    ], `relay-${n}-${i}.log`);
    closers.push(() => stopChild(ff.child, ff.exited, 5000));
    relays.push({ ...ff, audioPort });
  }
  await waitUntil(() => relays.every((r) => udpPortBound(r.audioPort) && udpPortBound(r.audioPort + 2)), 10_000, 50, 'relay ffmpeg did not bind')
    .catch((e: Error) => {
      throw new Error(`${e.message}\n${tail(relays[0]!.log)}`);
    });
  const uases: FarEnd[] = [];
  for (let i = 0; i < n; i++) uases.push(await farEnd(media, 'uas-answer.xml'));
  const cap = await captureRtp(uases[0]!.mediaPort + 2, work);
  closers.push(async () => void (await cap.stop().catch(() => [])));
  const t0 = streams.map(() => 0);
  const uacs: FarEnd[] = [];
  for (let i = 0; i < n; i++) {
    t0[i] = Date.now();
    uacs.push(await farEnd(media, 'uac-plain.xml', {
      remote: `127.0.0.1:${uases[i]!.sipp.sipPort}`,
      vars: { audio_port: String(relays[i]!.audioPort), video_port: String(relays[i]!.audioPort + 2) },
    }));
  }
  let active: boolean[] = streams.map(() => false);
  await waitUntil(async () => {
    const pubs = new Set(await nginx.publishers());
    active = streams.map((s) => pubs.has(s));
    return active.every(Boolean) || relays.every((r, i) => active[i] || r.child.exitCode !== null);
  }, SETUP_TIMEOUT_MS, 200, 'relays publishing').catch(() => undefined);
  const keys = await firstKeys(ps, t0, active);
  log(`relay N=${n}: ${active.filter(Boolean).length} active, first keyframes ${keys.map((k) => k.toFixed(0)).join(' ')} ms`);
  await sleep(warmupS * 1000);
  const ffPids = relays.map((r) => r.child.pid!);
  const farPids = [...uases, ...uacs].map((f) => f.sipp.pid);
  const w = await measureWindow(nginx, [...ffPids, ...farPids]);
  const pubs = new Set(await nginx.publishers());
  const failures: string[] = [];
  let held = 0;
  streams.forEach((s, i) => {
    const kbps = w.kbps.get(s) ?? 0;
    const alive = relays[i]!.child.exitCode === null && relays[i]!.child.signalCode === null;
    if (alive && pubs.has(s) && kbps >= media.videoKbps / 2) held++;
    else failures.push(`relay ${i}: ffmpeg ${alive ? 'running' : 'exited'}, nginx ${pubs.has(s) ? '' : 'not '}publishing, ${kbps.toFixed(0)} kbit/s`);
  });
  const latency = pairLatencies(await cap.stop(), ps[0]!.tags, w.fromMs, w.toMs);
  ps[0]!.close();
  const drops = udpDrops((p) => relays.some((r) => p >= r.audioPort && p <= r.audioPort + 3));
  for (const f of uacs) await f.sipp.close();
  for (const f of uases) await f.sipp.close();
  for (const r of relays) await stopChild(r.child, r.exited, 5000);

  const ffs = ffPids.map((p) => w.procs.get(p)).filter((s): s is ProcSummary => s !== undefined);
  const kbpsList = streams.map((s) => w.kbps.get(s) ?? 0);
  return {
    side: 'relay', n, active: active.filter(Boolean).length, held, failures,
    cpuPerCallPct: mean(ffs.map((s) => s.cpuPct)), rssPerCallMiB: mean(ffs.map((s) => s.rssMeanMiB)),
    totalCpuPct: sum(ffs.map((s) => s.cpuPct)), totalRssMiB: sum(ffs.map((s) => s.rssMeanMiB)),
    ffmpeg: { count: ffs.length, cpuMeanPct: mean(ffs.map((s) => s.cpuPct)), rssMeanMiB: mean(ffs.map((s) => s.rssMeanMiB)) },
    firstKeyMs: dist(keys), latency,
    rtmpKbps: { mean: mean(kbpsList), min: Math.min(...kbpsList) },
    udpDrops: drops,
    farEndCpuPct: sum(farPids.map((p) => w.procs.get(p)?.cpuPct ?? 0)),
    hostBusyPct: w.busy,
    procs: [
      ...ffs.map((summary) => ({ role: 'relay ffmpeg', summary })),
      ...farPids.flatMap((p) => (w.procs.has(p) ? [{ role: 'far-end SIPp', summary: w.procs.get(p)! }] : [])),
    ],
  };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const ffv = (await run('ffmpeg', ['-version'])).stdout.split('\n', 1)[0] ?? '';
  // Which code was measured (read-only git calls).
  const commit = await gitCommit();
  const dirty = ((await run('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT }).catch(() => null))?.stdout.trim() ?? '') !== '';
  // Same spec as bench/one-call.ts's defaults, so both reuse one generated media folder.
  const media = await makeBenchMedia(path.join(tmpdir(), 'sip-rtmp-bench-media'), {
    width, height, fps: 25, bitrate: Number(argv.kbps) * 1000, gopS: 2, clipS: 12, totalS: windowS + warmupS + 30,
  });
  const nginx = await startNginxRtmp();
  closers.push(() => nginx.close());
  const loadBefore = loadavg();
  const runs: ConcurrentResult['runs'] = [];
  let stopped: string | null = null;
  let firstIdle: ProcSummary | undefined;
  for (const n of ns) {
    // A fresh gateway per N: its idle CPU and RSS, measured before the calls, are what the calls are set against.
    const gw = await startGateway();
    firstIdle ??= gw.idle;
    log(`gateway up (pid ${gw.pid}), idle ${gw.idle.cpuPct.toFixed(1)} % CPU, ${gw.idle.rssMeanMiB.toFixed(0)} MiB`);
    const gateway = await gatewayRun(gw, nginx, media, n);
    await gw.stop();
    const relay = await relayRun(nginx, media, n);
    runs.push({ n, gateway, relay });
    log(`N=${n}: gateway held ${gateway.held}/${n}, relay held ${relay.held}/${n}`);
    if (gateway.held < n || relay.held < n) {
      stopped = `at N = ${n} the ${gateway.held < n ? 'gateway' : 'relay'} held ${Math.min(gateway.held, relay.held)} of ${n} calls`;
      break;
    }
  }
  const result: ConcurrentResult = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '?', loadavgBefore: loadBefore, loadavgAfter: loadavg(), node: process.version, ffmpeg: ffv },
    code: { commit, srcDirty: dirty },
    media: { width, height, fps: 25, gopS: 2, videoKbps: media.videoKbps, videoPps: media.videoPps, audio: 'PCMA 8 kHz, 20 ms (64 kbit/s)' },
    params: { ns, windowS, warmupS, idleS, embedded },
    gatewayIdle: firstIdle!, runs, stopped, totalS: 0,
  };
  result.totalS = (performance.now() - t0) / 1000;
  const md = renderConcurrentMarkdown(result);
  mkdirSync(argv.out!, { recursive: true });
  writeFileSync(path.join(argv.out!, 'concurrent-calls.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(path.join(argv.out!, 'concurrent-calls.md'), md);
  process.stdout.write(md);
}

runBench(main, closers);
