/** Result shape of the concurrent-calls bench and its Markdown table. Pure. */
import type { LatencyResult } from './latency.js';
import type { ProcSummary } from './procstat.js';

/** A distribution over the calls of one run, ms. */
export interface Dist {
  p50: number;
  max: number;
  /** One value per call that got there (call order). */
  values: number[];
}

/** One side (gateway or relay) at one N. */
export interface SideRun {
  side: 'gateway' | 'relay';
  n: number;
  /** Calls publishing to nginx before the setup timeout. */
  active: number;
  /**
   * Calls held at the end of the window: gateway — ESTABLISHED with
   * RTMP_STREAM_ACTIVE and nginx listing the publisher; relay — ffmpeg alive
   * and nginx listing the publisher; both — nginx received ≥ half the media's
   * bitrate over the window.
   */
  held: number;
  /** Why calls were not held. */
  failures: string[];
  /** Per-call CPU, percent of one core (see {@link renderConcurrentMarkdown} for the arithmetic). */
  cpuPerCallPct: number;
  rssPerCallMiB: number;
  /** Every process of the side (gateway: node, embedded server, ffmpeg children; relay: the ffmpegs), summed. */
  totalCpuPct: number;
  totalRssMiB: number;
  /** Gateway only: the node process in the window, and idle before any call (a fresh gateway per N). */
  node?: { cpuPct: number; rssMiB: number; rssMaxMiB: number; idleCpuPct: number; idleRssMiB: number };
  /** Gateway only: the embedded viewer server's process (receives every call's stream), in the window and idle. */
  embedded?: { cpuPct: number; rssMiB: number; idleCpuPct: number; idleRssMiB: number };
  /** The ffmpeg processes (gateway: transcoder children; relay: the relays). */
  ffmpeg: { count: number; cpuMeanPct: number; rssMeanMiB: number };
  /** POST startup (gateway) / UAC start (relay) → first video keyframe played back from nginx. */
  firstKeyMs: Dist;
  /** RTP-in → RTMP-out video latency of the first call. */
  latency: LatencyResult;
  /** RTMP kbit/s nginx received per call over the window: mean and the lowest call. */
  rtmpKbps: { mean: number; min: number };
  /** Datagrams dropped on full RTP receive buffers since the calls started. */
  udpDrops: number;
  /** SIPp far ends (UAS, and the relay's UACs), summed CPU. */
  farEndCpuPct: number;
  /** Whole host busy during the window, percent of all cores. */
  hostBusyPct: number;
  /** Raw summaries, by role. */
  procs: { role: string; summary: ProcSummary }[];
}

/** Everything one run measured. */
export interface ConcurrentResult {
  date: string;
  machine: { cpus: number; model: string; loadavgBefore: number[]; loadavgAfter: number[]; node: string; ffmpeg: string };
  code: { commit: string; srcDirty: boolean };
  media: { width: number; height: number; fps: number; gopS: number; videoKbps: number; videoPps: number; audio: string };
  params: { ns: number[]; windowS: number; warmupS: number; idleS: number; embedded: boolean };
  /** The gateway node process with no call, right after start-up. */
  gatewayIdle: ProcSummary;
  runs: { n: number; gateway: SideRun; relay: SideRun | null }[];
  /** Why larger N were not run, if so. */
  stopped: string | null;
  totalS: number;
}

const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '–');
const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '–');

/** Median (upper) and max of a list; NaN when empty. */
export function dist(values: number[]): Dist {
  const s = [...values].sort((a, b) => a - b);
  return { p50: s.length ? s[Math.floor(s.length / 2)]! : NaN, max: s.length ? s[s.length - 1]! : NaN, values };
}

function row(s: SideRun): string {
  const lat = s.latency.paired > 0 ? `${f0(s.latency.p50)} / ${f0(s.latency.p95)}` : '–';
  return `| ${s.n} | ${s.side === 'gateway' ? 'gateway' : 'plain ffmpeg relay'} | ${s.held} / ${s.n} | ` +
    `**${f1(s.cpuPerCallPct)}** | **${f1(s.rssPerCallMiB)}** | ${f1(s.totalCpuPct)} | ${f0(s.totalRssMiB)} | ` +
    `${f0(s.firstKeyMs.p50)} / ${f0(s.firstKeyMs.max)} | ${lat} | ${f0(s.rtmpKbps.mean)} (${f0(s.rtmpKbps.min)}) | ` +
    `${s.udpDrops} | ${f0(s.hostBusyPct)} |`;
}

/** The Markdown report: the table plus the conditions it was measured under. */
export function renderConcurrentMarkdown(r: ConcurrentResult): string {
  const m = r.media;
  const rows: string[] = [];
  for (const run of r.runs) {
    rows.push(row(run.gateway));
    if (run.relay) rows.push(row(run.relay));
  }
  const notes: string[] = [];
  for (const run of r.runs) {
    const g = run.gateway;
    if (g.node) {
      notes.push(`N = ${run.n}: gateway node ${f1(g.node.cpuPct)} % CPU (idle ${f1(g.node.idleCpuPct)} %), RSS ${f1(g.node.rssMiB)} MiB ` +
        `(max ${f1(g.node.rssMaxMiB)}; idle before the calls ${f1(g.node.idleRssMiB)})` +
        (g.embedded ? `; embedded server ${f1(g.embedded.cpuPct)} % CPU (idle ${f1(g.embedded.idleCpuPct)} %), RSS ${f1(g.embedded.rssMiB)} MiB (idle ${f1(g.embedded.idleRssMiB)})` : '') +
        `; ${g.ffmpeg.count} ffmpeg child${g.ffmpeg.count === 1 ? '' : 'ren'} ` +
        `${f1(g.ffmpeg.cpuMeanPct)} % / ${f1(g.ffmpeg.rssMeanMiB)} MiB each; far-end SIPp ${f1(g.farEndCpuPct)} % in all` +
        (run.relay ? `; relay side: far-end SIPp UAS + UAC ${f1(run.relay.farEndCpuPct)} % in all` : '') +
        `. Latency pairs: gateway ${g.latency.paired} (${g.latency.unpaired} not)` +
        (run.relay ? `, relay ${run.relay.latency.paired} (${run.relay.latency.unpaired} not)` : '') + '.');
    }
    for (const s of [g, run.relay]) if (s && s.failures.length > 0) notes.push(`N = ${run.n} ${s.side}: ${s.failures.join('; ')}`);
  }
  return [
    `# Concurrent-calls benchmark (${r.date})`,
    '',
    `N concurrent calls, each from its own SIPp far end sending H.264 ${m.width}x${m.height} ${m.fps} fps ` +
      `(IDR every ${m.gopS} s, ${f0(m.videoKbps)} kbit/s of RTP) + ${m.audio}, all published to one nginx-rtmp; ` +
      `then the same RTP to N plain ffmpeg relays (SDP → FLV, video copy, audio → AAC). ` +
      `Window ${r.params.windowS} s per side after ${r.params.warmupS} s of warm-up. ` +
      'CPU in percent of one core; RSS in MiB. Per call: gateway = (node + embedded server − both idle) / N + mean ffmpeg child ' +
      '(a fresh gateway per N, idle measured before its calls; codec worker threads are inside the node process), ' +
      'RSS the same way; relay = mean ffmpeg. ' +
      'First keyframe: startup request (relay: SIPp caller start) → first video keyframe played back from nginx by an RTMP player ' +
      'subscribed before publishing began. Latency: first call only, a video frame\'s first RTP packet on the wire (tcpdump on lo) → ' +
      'its FLV tag played back from nginx, over the window.',
    '',
    '| N | side | calls held | CPU % per call | RSS MiB per call | CPU % total | RSS MiB total | startup → first keyframe p50 / max ms | video latency p50 / p95 ms | RTMP kbit/s per call (min) | RTP drops | host busy % |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    ...notes.map((n) => `- ${n}`),
    ...(r.stopped ? [`- Stopped increasing N: ${r.stopped}`] : []),
    '',
    `Gateway node idle after start-up: ${f1(r.gatewayIdle.cpuPct)} % CPU, ${f1(r.gatewayIdle.rssMeanMiB)} MiB` +
      `${r.params.embedded ? '; embedded RTMP server on (every call also published to it, in its own process, counted as the gateway\'s)' : '; embedded RTMP server off'}. ` +
      `Machine: ${r.machine.cpus} × ${r.machine.model}, load average ${r.machine.loadavgBefore.map(f2).join(' ')} before, ` +
      `${r.machine.loadavgAfter.map(f2).join(' ')} after ("host busy" counts everything, the bench's far ends and nginx included); ` +
      `Node ${r.machine.node}; ${r.machine.ffmpeg.replace(/ Copyright.*$/, '')}. ` +
      `Code: ${r.code.commit}${r.code.srcDirty ? ' with uncommitted changes in src/' : ''}. Run took ${f0(r.totalS)} s.`,
    '',
  ].join('\n');
}
