/**
 * Media benchmark: per-call CPU and RSS of the gateway for H.264 + G.711
 * (audio `aac` and `copy`) and VP8 + Opus, and the RTP-in → RTMP-out video
 * latency, next to a plain ffmpeg relay of the same RTP measured in the same
 * run (`ffmpeg -i call.sdp -c:v copy|libx264 -c:a aac -f flv rtmp://…`).
 *
 * Each scenario: a fresh gateway child (`node dist/main.js` (the production build), its
 * embedded server off) calls a SIPp UAS (test/fixtures/media/uas-codec.xml)
 * answering with the codecs; ffmpeg sends 640×360 25 fps video + audio as
 * RTP through a tap in this process (it records when each video frame's
 * first packet passes) to the gateway's ports; the gateway publishes to an
 * nginx-rtmp; an ffmpeg reader copies the RTMP stream to FLV on a pipe and
 * this process records when each video tag arrives. Latency of a frame =
 * tag arrival − first packet of that frame at the tap (frames paired by
 * timestamp; the reader's own buffering is in both sides' numbers). Then the
 * same RTP goes to the plain relay instead. Sides run one after the other.
 *
 *   npx tsx bench/media-codecs.ts [--window 15] [--out bench/results]
 */
import dgram from 'node:dgram';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FlvDemuxer, isSequenceHeader } from '../src/pipeline/index.js';
import { startNginxRtmp, type NginxRtmp } from '../test/helpers/nginx.js';
import { freeTcpPort, freeUdpPort, freeUdpPortRange } from '../test/helpers/ports.js';
import { stopChild } from '../test/helpers/proc.js';
import { startSippUas } from '../test/helpers/sipp.js';
import { FAR_CODECS, ffmpegRtpArgs, offerPorts, type FarAudioCodec, type FarVideoCodec } from '../test/helpers/media-far-end.js';
import { childrenNamed, measure, type ProcSummary } from './lib/procstat.js';
import { ROOT, STARTUP_SETTLE_MS, gatewayArgs, waitFor } from './lib/run.js';
import { percentile } from './lib/latency.js';

const { values } = parseArgs({ options: { window: { type: 'string', default: '15' }, out: { type: 'string', default: 'bench/results' } } });
const windowS = Number(values.window);
const work = mkdtempSync(path.join(tmpdir(), 'bench-media-'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Scenario { name: string; audio: FarAudioCodec; video: FarVideoCodec; audioOut: 'aac' | 'copy' }
const SCENARIOS: Scenario[] = [
  { name: 'H.264 + G.711 → AAC', audio: 'pcma', video: 'h264', audioOut: 'aac' },
  { name: 'H.264 + G.711 copy', audio: 'pcma', video: 'h264', audioOut: 'copy' },
  { name: 'VP8 + Opus → H.264 + AAC', audio: 'opus', video: 'vp8', audioOut: 'aac' },
];


/** Whether an RTP payload starts a keyframe (H.264 SPS/IDR, STAP-A with an SPS, FU-A start of an IDR; VP8 P bit 0). */
function startsKeyframe(codec: FarVideoCodec, p: Buffer): boolean {
  if (p.length < 2) return false;
  if (codec === 'vp8') {
    let o = 1;
    if (p[0]! & 0x80) {
      const x = p[1]!;
      o = 2 + (x & 0x80 ? (p[2]! & 0x80 ? 2 : 1) : 0) + (x & 0x40 ? 1 : 0) + (x & 0x30 ? 1 : 0);
    }
    return (p[0]! & 0x17) === 0x10 && o < p.length && (p[o]! & 0x01) === 0;
  }
  const t = p[0]! & 0x1f;
  return t === 7 || t === 5 || (t === 24 && (p[3]! & 0x1f) === 7) || (t === 28 && (p[1]! & 0x80) !== 0 && (p[1]! & 0x1f) === 5);
}

/** A UDP forwarder that notes when each video frame's first packet passes (by RTP timestamp), and keyframes. */
class Tap {
  readonly frames = new Map<number, { at: number; key: boolean }>();
  readonly #sock = dgram.createSocket('udp4');
  port = 0;
  constructor(private target: number, private readonly video: FarVideoCodec | null) {
    this.#sock.on('message', (m) => {
      if (this.video && m.length >= 12) {
        const ts = m.readUInt32BE(4);
        const cc = m[0]! & 0x0f;
        const key = startsKeyframe(this.video, m.subarray(12 + cc * 4));
        const f = this.frames.get(ts);
        if (!f) this.frames.set(ts, { at: performance.now(), key });
        else if (key) f.key = true;
      }
      this.#sock.send(m, this.target, '127.0.0.1');
    });
  }
  async bind(): Promise<this> {
    const p = await freeUdpPort();
    await new Promise<void>((r) => this.#sock.bind(p, '127.0.0.1', () => r()));
    this.port = p;
    return this;
  }
  retarget(port: number): void {
    this.target = port;
    this.frames.clear();
  }
  close(): void {
    this.#sock.close();
  }
}

/** Reads an RTMP stream with ffmpeg (copy to FLV on a pipe) and notes each video tag's arrival. */
function readRtmp(url: string): { tags: { ts: number; at: number; key: boolean }[]; stop(): Promise<void> } {
  const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-fflags', 'nobuffer', '-probesize', '32k', '-analyzeduration', '0',
    '-i', url, '-c', 'copy', '-f', 'flv', '-flush_packets', '1', 'pipe:1'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  const demux = new FlvDemuxer();
  const tags: { ts: number; at: number; key: boolean }[] = [];
  child.stdout.on('data', (d: Buffer) => {
    const at = performance.now();
    for (const t of demux.push(d)) if (t.type === 'video' && !isSequenceHeader(t)) tags.push({ ts: t.timestamp, at, key: t.key });
  });
  return { tags, stop: () => stopChild(child, exited, 2000) };
}

/**
 * Pairs output tags with input frames and returns the latencies (ms) of the
 * frames after the first 3 s. Frames are periodic, so timestamps alone pair
 * them only modulo a frame: the pairing is anchored on keyframes (an output
 * keyframe is an input keyframe: passthrough keeps them, the transcoders
 * force one every 2 s of input time and the sender's GOP is 2 s), and of the
 * anchors (one per GOP) the one giving the smallest non-negative latency wins.
 */
function latencies(inFrames: Map<number, { at: number; key: boolean }>, tags: readonly { ts: number; at: number; key: boolean }[]): { lat: number[]; unmatched: number } {
  const ins = [...inFrames.entries()].sort((a, b) => a[1].at - b[1].at);
  const firstAt = tags[0]?.at ?? 0;
  const outs = tags.filter((t) => t.at - firstAt >= 3000);
  if (ins.length < 10 || outs.length < 10) return { lat: [], unmatched: outs.length };
  const t0 = ins[0]![0];
  const byMs = new Map(ins.map(([ts, f]) => [Math.round(((ts - t0) >>> 0) / 90), f]));
  const find = (ms: number) => byMs.get(ms) ?? byMs.get(ms - 1) ?? byMs.get(ms + 1);
  const anchor = outs.find((t) => t.key);
  if (!anchor) return { lat: [], unmatched: outs.length };
  let best: { d: number; median: number } | null = null;
  for (const [ms, f] of byMs) {
    if (!f.key) continue;
    const d = anchor.ts - ms;
    const lat = outs.map((t) => {
      const i = find(t.ts - d);
      return i === undefined ? NaN : t.at - i.at;
    }).filter(Number.isFinite);
    const median = percentile(lat, 0.5);
    if (lat.length > outs.length / 2 && median >= 0 && (best === null || median < best.median)) best = { d, median };
  }
  if (best === null) return { lat: [], unmatched: outs.length };
  const lat: number[] = [];
  for (const t of outs) {
    const i = find(t.ts - best.d);
    if (i !== undefined) lat.push(t.at - i.at);
  }
  return { lat, unmatched: outs.length - lat.length };
}


interface SideResult {
  procs: { role: string; summary: ProcSummary }[];
  latency: { p50: number; p95: number; frames: number; unmatched: number };
}

function spawnProc(cmd: string, args: string[]): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => {
    child.once('exit', (c) => r(c));
    child.once('error', () => r(null));
  });
  return { child, exited };
}

async function gatewaySide(sc: Scenario, nginx: NginxRtmp, stream: string): Promise<SideResult> {
  const rtpBase = await freeUdpPortRange(20);
  const cfg = {
    rest: { host: '127.0.0.1', httpPort: await freeTcpPort() },
    sip: { host: '127.0.0.1', port: await freeUdpPort() },
    rtp: { host: '127.0.0.1', portMin: rtpBase, portMax: rtpBase + 19, generateMediaForUa: false },
    transcode: { audio: sc.audioOut },
    rtmp: { embedded: { enabled: false } },
    webhook: { apps: { callApp: '' } },
    capture: { path: path.join(work, `gw-${stream}-captures.db`) },
    log: { level: 'warn' },
  };
  const cfgFile = path.join(work, `gw-${stream}.json`);
  writeFileSync(cfgFile, JSON.stringify(cfg));
  const gw = spawnProc(process.execPath, gatewayArgs(cfgFile));
  const base = `http://127.0.0.1:${cfg.rest.httpPort}/rest-api`;
  const post = async (route: string, body: unknown): Promise<{ status: number; body: unknown }> => {
    const r = await fetch(`${base}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, body: await r.json().catch(() => null) };
  };
  await waitFor(async () => (await post('/call/find_all', {})).status > 0, 30_000, 'gateway start');
  await sleep(STARTUP_SETTLE_MS);
  const idle = (await measure([gw.child.pid!], 3)).get(gw.child.pid!)!;
  const a = FAR_CODECS[sc.audio];
  const v = FAR_CODECS[sc.video];
  const sipp = await startSippUas({
    scenario: path.join(ROOT, 'test/fixtures/media/uas-codec.xml'), sipPort: await freeUdpPort(), mediaPort: await freeUdpPortRange(4),
    vars: {
      audio_sink: String(await freeUdpPort()), audio_pt: String(a.pt), audio_rtpmap: a.rtpmap,
      video_sink: String(await freeUdpPort()), video_pt: String(v.pt), video_rtpmap: v.rtpmap, video_fmtp: v.fmtp ?? 'x=0',
    },
  });
  const started = await post('/call/startup', { callId: `bench-${stream}`, callee: `sip:service@127.0.0.1:${sipp.sipPort}`, toStream: stream, rtmpUrl: nginx.rtmpUrl, rtmpStream: stream });
  if (started.status !== 200) throw new Error(JSON.stringify(started.body));
  const ports = await waitFor(() => offerPorts(sipp), 10_000, 'INVITE');
  await waitFor(() => sipp.sipMessages().some((m) => m.direction === 'received' && m.method === 'ACK'), 10_000, 'ACK');
  const result = await measureSide(sc, ports, stream, nginx, async () => [
    { role: 'gateway node (Δ over idle)', pid: gw.child.pid! },
    ...childrenNamed(gw.child.pid!, 'ffmpeg').map((pid) => ({ role: 'gateway ffmpeg child', pid })),
  ]);
  const node = result.procs.find((p) => p.role.startsWith('gateway node'));
  if (node) node.summary = { ...node.summary, cpuPct: node.summary.cpuPct - idle.cpuPct };
  await post('/call/terminate', { callId: `bench-${stream}` });
  await sleep(1000);
  await sipp.close();
  await stopChild(gw.child, gw.exited, 10_000);
  return result;
}

async function relaySide(sc: Scenario, nginx: NginxRtmp, stream: string): Promise<SideResult> {
  const aPort = await freeUdpPortRange(2);
  const vPort = await freeUdpPortRange(2);
  const a = FAR_CODECS[sc.audio];
  const v = FAR_CODECS[sc.video];
  const [aName, aRate, aCh] = a.rtpmap.split('/');
  const sdp = ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=relay', 'c=IN IP4 127.0.0.1', 't=0 0',
    `m=audio ${aPort} RTP/AVP ${a.pt}`, `a=rtpmap:${a.pt} ${aName}/${aRate}${aCh ? `/${aCh}` : ''}`,
    `m=video ${vPort} RTP/AVP ${v.pt}`, `a=rtpmap:${v.pt} ${v.rtpmap}`, ...(v.fmtp ? [`a=fmtp:${v.pt} ${v.fmtp}`] : []), ''].join('\n');
  const sdpFile = path.join(work, `${stream}.sdp`);
  writeFileSync(sdpFile, sdp);
  const ff = spawnProc('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-protocol_whitelist', 'file,udp,rtp', '-i', sdpFile,
    ...(sc.video === 'h264' ? ['-c:v', 'copy'] : ['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-force_key_frames', 'expr:gte(t,n_forced*2)']),
    ...(sc.audioOut === 'copy' && sc.audio === 'pcma' ? ['-c:a', 'copy'] : ['-c:a', 'aac', '-ar', '48000', '-ac', '1', '-b:a', '64k']),
    '-f', 'flv', `${nginx.rtmpUrl}/${stream}`]);
  await sleep(500);
  const result = await measureSide(sc, { audioPort: aPort, videoPort: vPort }, stream, nginx, async () => [{ role: 'plain ffmpeg relay', pid: ff.child.pid! }]);
  await stopChild(ff.child, ff.exited, 5000);
  return result;
}

/** Sends the media through taps to the given ports, waits for the RTMP stream, measures the window. */
async function measureSide(sc: Scenario, ports: { audioPort: number; videoPort: number }, stream: string, nginx: NginxRtmp,
  pids: () => Promise<{ role: string; pid: number }[]>): Promise<SideResult> {
  const vTap = await new Tap(ports.videoPort, sc.video).bind();
  const aTap = await new Tap(ports.audioPort, null).bind();
  const args = ffmpegRtpArgs({ audio: sc.audio, video: sc.video, audioPort: aTap.port, videoPort: vTap.port, seconds: windowS + 30, gop: 50 })
    .map((x) => (x.startsWith('testsrc2=s=320x240') ? x.replace('320x240', '640x360') : x));
  const sender = spawnProc('ffmpeg', args);
  await waitFor(async () => (await nginx.publishers()).includes(stream), 20_000, `${stream} publishing`);
  const reader = readRtmp(`${nginx.rtmpUrl}/${stream}`);
  await sleep(3000);
  const list = await pids();
  const m = await measure(list.map((p) => p.pid), windowS);
  const { lat, unmatched } = latencies(vTap.frames, reader.tags);
  await reader.stop();
  await stopChild(sender.child, sender.exited, 3000);
  vTap.close();
  aTap.close();
  return {
    procs: list.map((p) => ({ role: p.role, summary: m.get(p.pid)! })),
    latency: { p50: percentile(lat, 0.5), p95: percentile(lat, 0.95), frames: lat.length, unmatched },
  };
}

const nginx = await startNginxRtmp();
const results: { scenario: Scenario; gateway: SideResult; relay: SideResult }[] = [];
try {
  for (const [i, sc] of SCENARIOS.entries()) {
    const gateway = await gatewaySide(sc, nginx, `gw${i}`);
    const relay = await relaySide(sc, nginx, `relay${i}`);
    results.push({ scenario: sc, gateway, relay });
    process.stderr.write(`${sc.name}: done\n`);
  }
} finally {
  await nginx.close();
}

const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '–');
const lines = [
  `# Media benchmark (${new Date().toISOString()})`,
  '',
  `One call per scenario: ffmpeg sends 640×360 25 fps video (GOP 2 s) and 20 ms audio as RTP; window ${windowS} s after 3 s of warm-up. `
  + 'CPU in percent of one core (gateway node process: minus its idle CPU before the call), RSS in MiB (node: the whole process). '
  + 'Latency: RTP first packet of a video frame at a tap in front of the receiver → the FLV tag read back from nginx-rtmp by an ffmpeg reader (p50 / p95 over the window; the reader adds the same to both sides).',
  '',
  '| scenario | side | process | CPU % | RSS MiB | video latency p50 / p95 ms |',
  '|---|---|---|---:|---:|---:|',
];
for (const r of results) {
  for (const [side, res] of [['gateway', r.gateway], ['plain relay', r.relay]] as const) {
    res.procs.forEach((p, k) => lines.push(`| ${k === 0 && side === 'gateway' ? r.scenario.name : ''} | ${k === 0 ? side : ''} | ${p.role} | ${f1(p.summary.cpuPct)} | ${f1(p.summary.rssMeanMiB)} | ${k === 0 ? `${f0(res.latency.p50)} / ${f0(res.latency.p95)} (${res.latency.frames} frames paired, ${res.latency.unmatched} not)` : ''} |`));
    const total = res.procs.reduce((s, p) => s + p.summary.cpuPct, 0);
    if (res.procs.length > 1) lines.push(`| | | **${side} per call** | **${f1(total)}** | | |`);
  }
}
lines.push('', `Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}; Node ${process.version}; load average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')} `
  + '(other work on the host shows in the CPU figures).', '');
mkdirSync(path.join(ROOT, values.out!), { recursive: true });
writeFileSync(path.join(ROOT, values.out!, 'media-codecs.json'), JSON.stringify(results, null, 2));
writeFileSync(path.join(ROOT, values.out!, 'media-codecs.md'), lines.join('\n'));
process.stdout.write(lines.join('\n'));
