/** Result shape of the one-call bench and its Markdown rendering. Pure. */
import type { ProcSummary } from './procstat.js';

/** The relay side (b). */
export interface SideResult {
  ffmpeg: ProcSummary;
  /** The SIPp UAS sending the media (same load on both sides). */
  farEnd: ProcSummary;
  /** RTMP bytes nginx received from this side over the window, kbit/s. */
  rtmpKbps: number;
  /** Datagrams dropped on full receive buffers of the RTP sockets (/proc/net/udp), since the call started. */
  udpDrops: number;
  /** Whole-host CPU busy during the window, percent of all cores. */
  hostBusyPct: number;
  /** From call start until nginx saw the publisher, seconds. */
  activeAfterS: number;
  /** Packets ffmpeg's RTP demuxer reported missing over the run. */
  rtpMissed: number;
  /** Tail of ffmpeg's warnings. */
  log: string;
}

/** Everything one run measured. */
export interface OneCallResult {
  date: string;
  machine: { cpus: number; model: string; loadavgBefore: number[]; node: string; ffmpeg: string };
  /** The measured code: commit and whether src/ had uncommitted changes. */
  code: { commit: string; srcDirty: boolean };
  media: { width: number; height: number; fps: number; gopS: number; videoKbps: number; videoPps: number; audio: string };
  params: { windowS: number; idleS: number; warmupS: number; embedded: boolean };
  gateway: {
    idleNode: ProcSummary;
    /** Idle again after the call ended. */
    idleNodeAfter: ProcSummary;
    node: ProcSummary;
    ffmpeg: ProcSummary;
    farEnd: ProcSummary;
    rtmpKbps: number;
    udpDrops: number;
    hostBusyPct: number;
    activeAfterS: number;
  };
  relay: SideResult;
  totalS: number;
}

/** Derived figures: per-call cost of the gateway and the ratios to the relay. */
export interface Derived {
  nodeDeltaCpuPct: number;
  nodeDeltaRssMiB: number;
  perCallCpuPct: number;
  perCallRssMiB: number;
  totalCpuPct: number;
  totalRssMiB: number;
  cpuRatio: number;
  rssRatio: number;
  totalCpuRatio: number;
  totalRssRatio: number;
}

/**
 * Per-call cost = node (loaded − idle) + its ffmpeg child; totals = node +
 * ffmpeg. CPU is compared with the idle window before the call. RSS is
 * compared with the idle window after it: right after start-up the heap
 * still holds the garbage of module loading (RSS falls by ~10 MiB at the
 * first collections under load), while after the call it is the steady
 * state of a gateway that has served calls.
 */
export function derive(r: OneCallResult): Derived {
  const g = r.gateway;
  const nodeDeltaCpuPct = g.node.cpuPct - g.idleNode.cpuPct;
  const nodeDeltaRssMiB = g.node.rssMeanMiB - g.idleNodeAfter.rssMeanMiB;
  const perCallCpuPct = nodeDeltaCpuPct + g.ffmpeg.cpuPct;
  const perCallRssMiB = nodeDeltaRssMiB + g.ffmpeg.rssMeanMiB;
  const totalCpuPct = g.node.cpuPct + g.ffmpeg.cpuPct;
  const totalRssMiB = g.node.rssMeanMiB + g.ffmpeg.rssMeanMiB;
  const rc = r.relay.ffmpeg.cpuPct;
  const rm = r.relay.ffmpeg.rssMeanMiB;
  return {
    nodeDeltaCpuPct, nodeDeltaRssMiB, perCallCpuPct, perCallRssMiB, totalCpuPct, totalRssMiB,
    cpuRatio: perCallCpuPct / rc, rssRatio: perCallRssMiB / rm,
    totalCpuRatio: totalCpuPct / rc, totalRssRatio: totalRssMiB / rm,
  };
}

const f1 = (x: number): string => x.toFixed(1);
const f2 = (x: number): string => x.toFixed(2);
const cpu = (p: ProcSummary): string => `${f1(p.cpuPct)} ± ${f1(p.cpuSdPct)}`;
const rss = (p: ProcSummary): string => `${f1(p.rssMeanMiB)} (max ${f1(p.rssMaxMiB)})`;

/** The Markdown report: one table plus the conditions it was measured under. */
export function renderMarkdown(r: OneCallResult): string {
  const d = derive(r);
  const g = r.gateway;
  const m = r.media;
  const rows: [string, string, string][] = [
    ['gateway node process, idle (no call)', cpu(g.idleNode), rss(g.idleNode)],
    ['gateway node process, 1 call', cpu(g.node), rss(g.node)],
    ['gateway node process, idle after the call', cpu(g.idleNodeAfter), rss(g.idleNodeAfter)],
    ['gateway ffmpeg child (G.711 → AAC)', cpu(g.ffmpeg), rss(g.ffmpeg)],
    ['**gateway per-call cost** (node Δ¹ + ffmpeg child)', `**${f1(d.perCallCpuPct)}**`, `**${f1(d.perCallRssMiB)}**`],
    ['gateway total for 1 call (node + ffmpeg child)', f1(d.totalCpuPct), f1(d.totalRssMiB)],
    ['**plain ffmpeg relay** (SDP → FLV, copy + AAC)', `**${cpu(r.relay.ffmpeg)}**`, `**${rss(r.relay.ffmpeg)}**`],
    ['ratio: gateway per-call / relay', `${f2(d.cpuRatio)}×`, `${f2(d.rssRatio)}×`],
    ['ratio: gateway total / relay', `${f2(d.totalCpuRatio)}×`, `${f2(d.totalRssRatio)}×`],
  ];
  const lines = [
    `# One-call benchmark (${r.date})`,
    '',
    `Media: H.264 ${m.width}x${m.height} ${m.fps} fps, IDR every ${m.gopS} s, ${f1(m.videoKbps)} kbit/s of RTP ` +
      `(${f1(m.videoPps)} packets/s) + ${m.audio}. Window ${r.params.windowS} s per side after ${r.params.warmupS} s warm-up; ` +
      `idle baseline ${r.params.idleS} s. CPU is percent of one core (mean over the window ± sd of 1 s slices); RSS in MiB.`,
    '',
    '| process | CPU % of one core | RSS MiB |',
    '|---|---:|---:|',
    ...rows.map(([a, b, c]) => `| ${a} | ${b} | ${c} |`),
    '',
    `¹ node Δ: CPU ${f1(d.nodeDeltaCpuPct)} % (1 call − idle before the call), ` +
      `RSS ${f1(d.nodeDeltaRssMiB)} MiB (1 call − idle after the call; node's RSS swings ±10 MiB with garbage collection).`,
    '',
    `RTMP received by nginx over the window: gateway ${f1(g.rtmpKbps)} kbit/s, relay ${f1(r.relay.rtmpKbps)} kbit/s ` +
      (r.params.embedded
        ? '(the gateway also publishes the same call to its embedded server, inside the node process). '
        : '(embedded server disabled for this run: the gateway publishes to nginx only). ') +
      `Publishing began ${f1(g.activeAfterS)} s (gateway) / ${f1(r.relay.activeAfterS)} s (relay) after the call started. ` +
      `Far-end SIPp UAS: ${f1(g.farEnd.cpuPct)} % / ${f1(r.relay.farEnd.cpuPct)} % CPU on the two sides. ` +
      `RTP datagrams dropped on full socket buffers: ${g.udpDrops} (gateway) / ${r.relay.udpDrops} (relay); ` +
      `RTP packets the relay's ffmpeg reported missing: ${r.relay.rtpMissed}.`,
    '',
    `Machine: ${r.machine.cpus} × ${r.machine.model}, load average before ${r.machine.loadavgBefore.map(f2).join(' ')}; ` +
      `whole host busy ${f1(g.hostBusyPct)} % / ${f1(r.relay.hostBusyPct)} % of all cores during the two windows ` +
      `(everything running, the bench's own processes included); ` +
      `Node ${r.machine.node}; ${r.machine.ffmpeg.replace(/ Copyright.*$/, '')}. ` +
      `Code: ${r.code.commit}${r.code.srcDirty ? ' with uncommitted changes in src/' : ''}. Run took ${f1(r.totalS)} s.`,
    '',
  ];
  return lines.join('\n');
}
