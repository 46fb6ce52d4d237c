/**
 * One-call benchmark: CPU and memory of the gateway carrying one H.264 +
 * G.711 call (~1 Mbps), side by side with a plain ffmpeg relay of the same
 * RTP — what one would otherwise script (`ffmpeg -i call.sdp -c:v copy
 * -c:a aac -f flv rtmp://...`).
 *
 * (a) Gateway: `node dist/main.js --config <tmp>` (the production build) as a child
 *     process, everything on 127.0.0.1. Idle baseline, then one call to a
 *     SIPp UAS (`uas-answer.xml`) publishing to an nginx-rtmp of the bench
 *     (and to the gateway's embedded server). Measured: the node process and
 *     its ffmpeg child (G.711 → AAC).
 * (b) Relay: ffmpeg reading an SDP (H.264 PT 96 + PCMA PT 8 on two local
 *     ports) and publishing to the same nginx; a SIPp UAC (`uac-plain.xml`)
 *     calls the same UAS scenario offering ffmpeg's ports, so the same RTP
 *     reaches ffmpeg. Measured: the ffmpeg process.
 *
 * The sides run one after the other, never together. Usage:
 *   npx tsx bench/one-call.ts [--window 20] [--idle 5] [--warmup 3]
 *                             [--size 1280x720] [--kbps 1000] [--out bench/results]
 *                             [--no-embedded]   (gateway without its embedded RTMP server)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startNginxRtmp, type NginxRtmp } from '../test/helpers/nginx.js';
import { freeTcpPort, freeUdpPort, freeUdpPortRange } from '../test/helpers/ports.js';
import { run, stopChild } from '../test/helpers/proc.js';
import { udpPortBound } from '../test/helpers/sipp.js';
import { sippScenarioDir } from '../test/fixtures/make-media.js';
import { makeBenchMedia, type BenchMedia } from './lib/media.js';
import { childrenNamed, measure, type ProcSummary } from './lib/procstat.js';
import { startBenchSipp, type BenchSipp } from './lib/sipp.js';
import { renderMarkdown, type OneCallResult, type SideResult } from './lib/report.js';
import { hostCpu, restPost, udpDrops } from './lib/host.js';
import { ROOT, STARTUP_SETTLE_MS, gatewayArgs, spawnLogged, tail, waitFor, runBench, gitCommit, type Closer } from './lib/run.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const { values: argv } = parseArgs({
  options: {
    window: { type: 'string', default: '20' },
    idle: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '3' },
    size: { type: 'string', default: '1280x720' },
    kbps: { type: 'string', default: '1000' },
    out: { type: 'string', default: path.join(ROOT, 'bench', 'results') },
    'no-embedded': { type: 'boolean', default: false },
  },
});
const windowS = Number(argv.window);
const embedded = !argv['no-embedded'];
const idleS = Number(argv.idle);
const warmupS = Number(argv.warmup);
const dims = (argv.size ?? '').split('x').map(Number);
const width = dims[0] ?? 0;
const height = dims[1] ?? 0;
if (!width || !height || !(windowS > 0) || !(idleS > 0) || !(warmupS >= 0)) throw new Error('bad arguments');

/** Things to stop at the end, newest first; each stops one process by its PID. */
const closers: Closer[] = [];
const work = mkdtempSync(path.join(tmpdir(), 'bench-one-call-'));
closers.push(async () => rmSync(work, { recursive: true, force: true }));



/** bytes_in of `stream` in nginx's rtmp_stat, 0 when absent. */
async function nginxBytesIn(nginx: NginxRtmp, stream: string): Promise<number> {
  const xml = await nginx.stat();
  for (const m of xml.matchAll(/<stream>\s*<name>([^<]*)<\/name>([\s\S]*?)<\/stream>/g)) {
    if (m[1] === stream) return Number(/<bytes_in>(\d+)<\/bytes_in>/.exec(m[2] ?? '')?.[1] ?? 0);
  }
  return 0;
}



/** What a window measured. */
interface WindowResult {
  procs: Map<number, ProcSummary>;
  rtmpKbps: number;
  /** Datagrams dropped on the receiving RTP sockets' full buffers, since the call started. */
  udpDrops: number;
  /** Whole-host CPU busy during the window, percent of all cores: how noisy the machine was. */
  hostBusyPct: number;
}

/**
 * Runs the window on `pids`; also the RTMP bitrate nginx receives for
 * `stream`, host load, and drops on the receiving RTP sockets (`rtpPorts`).
 */
async function window(nginx: NginxRtmp, stream: string, pids: number[], rtpPorts: [number, number]): Promise<WindowResult> {
  const b0 = await nginxBytesIn(nginx, stream);
  const [busy0, total0] = hostCpu();
  const t0 = performance.now();
  const procs = await measure(pids, windowS);
  const [busy1, total1] = hostCpu();
  const kbps = ((await nginxBytesIn(nginx, stream)) - b0) * 8 / ((performance.now() - t0) / 1000) / 1000;
  return { procs, rtmpKbps: kbps, udpDrops: udpDrops((p) => p >= rtpPorts[0] && p <= rtpPorts[1]), hostBusyPct: ((busy1 - busy0) / (total1 - total0)) * 100 };
}



async function uas(media: BenchMedia): Promise<BenchSipp> {
  const s = await startBenchSipp({
    scenario: path.join(sippScenarioDir, 'uas-answer.xml'), cwd: media.dir,
    sipPort: await freeUdpPort(), mediaPort: await freeUdpPortRange(4),
  });
  closers.push(() => s.close());
  return s;
}

/** (a) The gateway: idle, then one call. */
async function gatewaySide(nginx: NginxRtmp, media: BenchMedia): Promise<OneCallResult['gateway']> {
  const rtpBase = await freeUdpPortRange(20);
  const config = {
    nodeId: 'bench',
    rest: { host: '127.0.0.1', httpPort: await freeTcpPort() },
    sip: { host: '127.0.0.1', port: await freeUdpPort() },
    rtp: { host: '127.0.0.1', portMin: rtpBase, portMax: rtpBase + 19 },
    rtmp: { embedded: { enabled: embedded, host: '127.0.0.1', rtmpPort: await freeTcpPort(), httpPort: await freeTcpPort() } },
    webhook: { apps: { callApp: '' } },
    capture: { path: path.join(work, 'captures.db') },
    log: { level: 'warn' },
  };
  const cfgFile = path.join(work, 'gateway.json');
  writeFileSync(cfgFile, JSON.stringify(config, null, 2));
  const gw = spawnLogged(work, process.execPath, gatewayArgs(cfgFile), 'gateway.log');
  const gwPid = gw.child.pid!;
  closers.push(() => stopChild(gw.child, gw.exited, 10_000));
  const base = `http://127.0.0.1:${config.rest.httpPort}`;
  // Any HTTP answer (find_all answers 404 with no calls) means the REST server is up.
  await waitFor(async () => (await fetch(`${base}/rest-api/call/find_all`, { method: 'POST' })).status > 0, 30_000,
    'gateway did not start', () => tail(gw.log));
  await sleep(STARTUP_SETTLE_MS);
  const idle = (await measure([gwPid], idleS)).get(gwPid)!;

  const far = await uas(media);
  const callId = 'bench-one-call';
  const started = await restPost(base, '/call/startup', {
    callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, sipLogin: 'bench',
    toStream: 'bench_gw', rtmpUrl: nginx.rtmpUrl, rtmpStream: 'gw',
  });
  if (started.status !== 200) throw new Error(`startup answered ${started.status}: ${JSON.stringify(started.body)}`);
  const setupT0 = performance.now();
  await waitFor(async () => {
    const found = await restPost(base, '/call/find', { callId });
    const call = (found.body as { status?: string; rtmpStreamStatus?: string }[])[0];
    if (call?.status === 'FAILED' || call?.status === 'FINISH') throw new Error(`call ended: ${JSON.stringify(call)}`);
    return call?.status === 'ESTABLISHED' && call.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE' && (await nginx.publishers()).includes('gw');
  }, 20_000, 'call not active', () => `${far.errors()}\n${tail(gw.log)}`);
  const activeAfterS = (performance.now() - setupT0) / 1000;
  await sleep(warmupS * 1000);
  const ff = childrenNamed(gwPid, 'ffmpeg');
  if (ff.length !== 1) throw new Error(`expected one ffmpeg child of the gateway, found ${ff.length}`);
  const ffPid = ff[0]!;
  const w = await window(nginx, 'gw', [gwPid, ffPid, far.pid], [config.rtp.portMin, config.rtp.portMax]);
  const still = await restPost(base, '/call/find', { callId });
  const status = (still.body as { status?: string }[])[0]?.status;
  if (status !== 'ESTABLISHED') throw new Error(`call not established at the end of the window: ${JSON.stringify(still.body)}`);
  await restPost(base, '/call/terminate', { callId });
  // Let the BYE transaction finish before the far end goes away.
  await waitFor(async () => (await restPost(base, '/call/find', { callId })).status === 404, 10_000, 'call still live after terminate',
    () => tail(gw.log));
  await far.close();
  // Idle again once the call is gone: node's RSS rarely shrinks, so this is the steady-state baseline.
  await waitFor(() => childrenNamed(gwPid, 'ffmpeg').length === 0, 10_000, 'ffmpeg child still running after the call', () => tail(gw.log));
  await sleep(2000);
  const idleAfter = (await measure([gwPid], idleS)).get(gwPid)!;
  await stopChild(gw.child, gw.exited, 10_000);
  return {
    idleNode: idle, idleNodeAfter: idleAfter, node: w.procs.get(gwPid)!, ffmpeg: w.procs.get(ffPid)!, farEnd: w.procs.get(far.pid)!,
    rtmpKbps: w.rtmpKbps, udpDrops: w.udpDrops, hostBusyPct: w.hostBusyPct, activeAfterS,
  };
}

/** The SDP a user would write for the relay: the two ports the call's media is sent to. */
function relaySdp(audioPort: number, videoPort: number): string {
  return [
    'v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=relay', 'c=IN IP4 127.0.0.1', 't=0 0',
    `m=audio ${audioPort} RTP/AVP 8`, 'a=rtpmap:8 PCMA/8000', 'a=recvonly',
    `m=video ${videoPort} RTP/AVP 96`, 'a=rtpmap:96 H264/90000',
    'a=fmtp:96 profile-level-id=42e01f;packetization-mode=1', 'a=recvonly', '',
  ].join('\r\n');
}

/** (b) The plain ffmpeg relay of the same RTP. */
async function relaySide(nginx: NginxRtmp, media: BenchMedia): Promise<SideResult> {
  const audioPort = await freeUdpPortRange(4);
  const videoPort = audioPort + 2;
  const sdp = path.join(work, 'relay.sdp');
  writeFileSync(sdp, relaySdp(audioPort, videoPort));
  const args = [
    '-hide_banner', '-nostdin', '-loglevel', 'warning',
    '-protocol_whitelist', 'file,udp,rtp', '-i', sdp,
    '-c:v', 'copy', '-c:a', 'aac', '-b:a', '64k', '-ar', '48000', '-ac', '1',
    '-f', 'flv', `${nginx.rtmpUrl}/relay`,
  ];
  const ff = spawnLogged(work, 'ffmpeg', args, 'relay-ffmpeg.log');
  closers.push(() => stopChild(ff.child, ff.exited, 5000));
  await waitFor(() => udpPortBound(audioPort) && udpPortBound(videoPort), 10_000, 'ffmpeg did not bind', () => tail(ff.log));
  const far = await uas(media);
  const caller = await startBenchSipp({
    scenario: path.join(sippScenarioDir, 'uac-plain.xml'), cwd: media.dir,
    sipPort: await freeUdpPort(), mediaPort: await freeUdpPortRange(4), remote: `127.0.0.1:${far.sipPort}`,
    vars: { audio_port: String(audioPort), video_port: String(videoPort) }, durationMs: 600_000,
  });
  closers.push(() => caller.close());
  const setupT0 = performance.now();
  await waitFor(async () => (await nginx.publishers()).includes('relay'), 20_000, 'relay not publishing',
    () => `${far.errors()}\n${caller.errors()}\n${tail(ff.log)}`);
  const activeAfterS = (performance.now() - setupT0) / 1000;
  await sleep(warmupS * 1000);
  const w = await window(nginx, 'relay', [ff.child.pid!, far.pid], [audioPort, audioPort + 3]);
  await caller.close();
  await far.close();
  await stopChild(ff.child, ff.exited, 5000);
  const log = tail(ff.log);
  // ffmpeg's RTP demuxer reports sequence gaps as "RTP: missed N packets" (whole run, not just the window).
  const missed = [...log.matchAll(/RTP: missed (\d+) packets/g)].reduce((a, m) => a + Number(m[1]), 0);
  return {
    ffmpeg: w.procs.get(ff.child.pid!)!, farEnd: w.procs.get(far.pid)!, rtmpKbps: w.rtmpKbps, udpDrops: w.udpDrops,
    hostBusyPct: w.hostBusyPct, activeAfterS, rtpMissed: missed, log,
  };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const ffv = (await run('ffmpeg', ['-version'])).stdout.split('\n', 1)[0] ?? '';
  // Which code was measured: the commit, and whether src/ had uncommitted changes (read-only git calls).
  const commit = await gitCommit();
  const dirty = ((await run('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT }).catch(() => null))?.stdout.trim() ?? '') !== '';
  const media = await makeBenchMedia(path.join(tmpdir(), 'sip-rtmp-bench-media'), {
    width, height, fps: 25, bitrate: Number(argv.kbps) * 1000, gopS: 2, clipS: 12,
    totalS: windowS + warmupS + 30,
  });
  const nginx = await startNginxRtmp();
  closers.push(() => nginx.close());
  const loadBefore = loadavg();
  const gateway = await gatewaySide(nginx, media);
  const relay = await relaySide(nginx, media);
  const result: OneCallResult = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '?', loadavgBefore: loadBefore, node: process.version, ffmpeg: ffv },
    code: { commit, srcDirty: dirty },
    media: { width, height, fps: 25, gopS: 2, videoKbps: media.videoKbps, videoPps: media.videoPps, audio: 'PCMA 8 kHz, 20 ms (64 kbit/s)' },
    params: { windowS, idleS, warmupS, embedded },
    gateway,
    relay,
    totalS: 0,
  };
  result.totalS = (performance.now() - t0) / 1000;
  const md = renderMarkdown(result);
  mkdirSync(argv.out!, { recursive: true });
  writeFileSync(path.join(argv.out!, 'one-call.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(path.join(argv.out!, 'one-call.md'), md);
  process.stdout.write(md);
}

runBench(main, closers);
