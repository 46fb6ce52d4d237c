/**
 * RTP-in → RTMP-out video latency for the concurrent-calls bench.
 *
 * In: tcpdump on the loopback interface records the far end's video RTP
 * (filtered by its source port) with kernel timestamps — the far end (SIPp)
 * sends straight to the receiver, so there is no tap process in the path.
 * Out: the bench's RTMP player (concurrent-rtmp-player.ts) notes when each
 * video message arrives from nginx-rtmp. Both clocks are the wall clock.
 *
 * Pairing is bench/media-codecs.ts's method: an output frame's timestamp
 * equals its input frame's RTP timestamp / 90 plus a constant, which
 * timestamps alone know only modulo a frame; the constant is anchored on
 * keyframes (passthrough keeps them; the media has an IDR every 2 s), and
 * of the candidates the smallest giving a non-negative median wins.
 * (media-codecs.ts keeps its version inside its script, which runs on
 * import, so it cannot be imported.)
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { readPcap } from '../../test/helpers/pcap.js';
import { spawnChild, stopChild } from '../../test/helpers/proc.js';
import { waitUntil } from '../../test/helpers/wait.js';
import type { PlayedVideoTag } from './rtmp-player.js';

/** First packet of one input video frame. */
export interface InFrame {
  /** RTP timestamp (90 kHz). */
  rtpTs: number;
  /** Wall clock of its first packet, ms. */
  atMs: number;
  /** Some packet of the frame starts an IDR (or carries the SPS before one). */
  key: boolean;
}

/**
 * Whether an H.264 RTP payload (RFC 6184 §5.2) starts a keyframe: an SPS or
 * IDR single NAL unit, a STAP-A whose first NAL is an SPS, or the start
 * fragment of an FU-A carrying an IDR.
 */
export function h264StartsKeyframe(p: Uint8Array): boolean {
  if (p.length < 2) return false;
  const t = p[0]! & 0x1f;
  if (t === 7 || t === 5) return true;
  if (t === 24) return p.length > 3 && (p[3]! & 0x1f) === 7;
  if (t === 28) return (p[1]! & 0x80) !== 0 && (p[1]! & 0x1f) === 5;
  return false;
}

/** Input frames (first packet of each RTP timestamp) from RTP datagrams with their times (µs). Pure. */
export function framesOf(packets: readonly { timeUs: number; payload: Uint8Array }[]): InFrame[] {
  const byTs = new Map<number, InFrame>();
  for (const { timeUs, payload } of packets) {
    if (payload.length < 12 || (payload[0]! & 0xc0) !== 0x80) continue;
    const cc = payload[0]! & 0x0f;
    const ts = ((payload[4]! << 24) | (payload[5]! << 16) | (payload[6]! << 8) | payload[7]!) >>> 0;
    const key = h264StartsKeyframe(payload.subarray(12 + cc * 4));
    const f = byTs.get(ts);
    if (!f) byTs.set(ts, { rtpTs: ts, atMs: timeUs / 1000, key });
    else if (key) f.key = true;
  }
  return [...byTs.values()].sort((a, b) => a.atMs - b.atMs);
}

/** Percentile (nearest rank) of a list; NaN when empty. Pure. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : NaN;
}

/** What {@link pairLatencies} found. */
export interface LatencyResult {
  p50: number;
  p95: number;
  max: number;
  /** Output frames paired with an input frame. */
  paired: number;
  /** Output frames not paired. */
  unpaired: number;
}

/**
 * Latencies (ms) of the output frames that arrived in [fromMs, toMs]:
 * arrival − first packet of the paired input frame. Pure.
 */
export function pairLatencies(ins: readonly InFrame[], tags: readonly PlayedVideoTag[], fromMs: number, toMs: number): LatencyResult {
  const outs = tags.filter((t) => t.atMs >= fromMs && t.atMs <= toMs);
  const none: LatencyResult = { p50: NaN, p95: NaN, max: NaN, paired: 0, unpaired: outs.length };
  const first = ins[0];
  if (!first || ins.length < 10 || outs.length < 10) return none;
  const byMs = new Map(ins.map((f) => [Math.round(((f.rtpTs - first.rtpTs) >>> 0) / 90), f]));
  const find = (ms: number): InFrame | undefined => byMs.get(ms) ?? byMs.get(ms - 1) ?? byMs.get(ms + 1);
  const anchor = outs.find((t) => t.key);
  if (!anchor) return none;
  const latOf = (d: number): number[] => {
    const lat: number[] = [];
    for (const t of outs) {
      const i = find(t.ts - d);
      if (i !== undefined) lat.push(t.atMs - i.atMs);
    }
    return lat;
  };
  let best: { lat: number[]; median: number } | null = null;
  for (const [ms, f] of byMs) {
    if (!f.key) continue;
    const lat = latOf(anchor.ts - ms);
    const median = percentile(lat, 0.5);
    if (lat.length > outs.length / 2 && median >= 0 && (best === null || median < best.median)) best = { lat, median };
  }
  if (best === null) return none;
  return {
    p50: best.median, p95: percentile(best.lat, 0.95), max: Math.max(...best.lat),
    paired: best.lat.length, unpaired: outs.length - best.lat.length,
  };
}

/** A running capture. */
export interface RtpCapture {
  pid: number;
  /** Stops tcpdump (by its PID) and returns the captured frames. Idempotent. */
  stop(): Promise<InFrame[]>;
}

/**
 * Captures UDP datagrams sent from 127.0.0.1:`srcPort` on `lo` with tcpdump
 * (needs root or CAP_NET_RAW) into `dir`; resolves once tcpdump listens.
 */
export async function captureRtp(srcPort: number, dir: string): Promise<RtpCapture> {
  const file = path.join(dir, `rtp-${srcPort}.pcap`);
  // -U + --immediate-mode: every packet reaches the file at once (without them the
  // last ring-buffer block, ~0.3 s of packets, was lost at SIGINT). -Z root: keep
  // the privileges to write in our temp folder.
  const { child, exited } = spawnChild('tcpdump', [
    '-i', 'lo', '-n', '-U', '--immediate-mode', '-s', '0', '-B', '8192', '-Z', 'root', '-w', file,
    `udp and src host 127.0.0.1 and src port ${srcPort}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  let gone = false;
  void exited.then(() => (gone = true));
  try {
    await waitUntil(() => {
      if (gone) throw new Error(`tcpdump exited: ${err}`);
      return err.includes('listening on');
    }, 10_000, 20, 'tcpdump did not start');
  } catch (e) {
    await stopChild(child, exited, 2000);
    throw e;
  }
  let stopped: Promise<InFrame[]> | undefined;
  return {
    pid: child.pid!,
    stop() {
      stopped ??= (async () => {
        await stopChild(child, exited, 3000, 'SIGINT');
        return framesOf(readPcap(readFileSync(file)));
      })();
      return stopped;
    },
  };
}
