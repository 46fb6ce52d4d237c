/**
 * The bench's own media, in a work folder of its own (SIPp runs there: the
 * scenarios name `h264.pcap` and `pcma.al` relatively):
 *
 * - `h264.pcap`: H.264 RTP (PT 96, packetization-mode 1 as ffmpeg's RTP
 *   muxer makes it: single NAL, STAP-A, FU-A; RFC 6184 §5.7), constrained
 *   baseline, SPS/PPS in band before every IDR, at the bench's resolution
 *   and bitrate (default 1280x720 25 fps ~1 Mbps, IDR every 2 s). One clip
 *   is encoded, then repeated with sequence numbers and timestamps carried on
 *   (RFC 3550 §5.1), so the far end plays one continuous stream for the
 *   whole run: no backwards jump for a receiver to resync on mid-window.
 * - `pcma.al`: raw G.711 A-law 8 kHz mono, looped by SIPp's `rtp_stream`.
 *
 * Reuses the pcap writer and the process runner of the test harness.
 * Regenerated only when the parameters change (a key file records them).
 */
import dgram from 'node:dgram';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writePcap, type PcapUdpPacket } from '../../test/helpers/pcap.js';
import { run } from '../../test/helpers/proc.js';

/** What the bench's media is made of. */
export interface BenchMediaSpec {
  width: number;
  height: number;
  fps: number;
  /** Video bitrate asked of the encoder, bits/s. */
  bitrate: number;
  /** IDR interval, seconds. */
  gopS: number;
  /** Length of the encoded clip, seconds (a multiple of gopS keeps loops on an IDR). */
  clipS: number;
  /** Length of the pcap after repeating the clip, seconds. */
  totalS: number;
}

/** The generated files and what they measure. */
export interface BenchMedia {
  dir: string;
  h264Pcap: string;
  pcmaRaw: string;
  /** RTP packets per second of the video. */
  videoPps: number;
  /** Video RTP payload (RTP header included) bitrate, kbit/s. */
  videoKbps: number;
  spec: BenchMediaSpec;
}

const VIDEO_PT = 96;
const VIDEO_SSRC = 0x2b3c4d5e;
const TS_HZ = 90000; // RFC 6184 §5.1

/** Encodes `clipS` seconds with ffmpeg into RTP and captures the datagrams. */
async function captureClip(s: BenchMediaSpec): Promise<Buffer[]> {
  const rtp = dgram.createSocket({ type: 'udp4', recvBufferSize: 16 * 1024 * 1024 });
  const rtcp = dgram.createSocket('udp4');
  const received: Buffer[] = [];
  rtp.on('message', (msg) => received.push(msg));
  rtcp.on('message', () => undefined); // sender reports: not replayed
  try {
    await new Promise<void>((r) => rtp.bind(0, '127.0.0.1', () => r()));
    await new Promise<void>((r) => rtcp.bind(0, '127.0.0.1', () => r()));
    const gop = Math.round(s.gopS * s.fps);
    const k = Math.round(s.bitrate / 1000);
    const args = [
      '-hide_banner', '-nostdin', '-loglevel', 'error',
      // Paced at 2x real time so no burst overflows the socket buffer.
      '-readrate', '2',
      '-f', 'lavfi', '-i', `testsrc2=size=${s.width}x${s.height}:rate=${s.fps}`,
      '-t', String(s.clipS), '-an',
      '-c:v', 'libx264', '-profile:v', 'baseline', '-level:v', '3.1', '-pix_fmt', 'yuv420p',
      '-preset', 'veryfast', '-tune', 'zerolatency',
      '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0', '-bf', '0',
      '-b:v', `${k}k`, '-maxrate', `${Math.round(k * 1.1)}k`, '-bufsize', `${k}k`,
      '-bsf:v', 'dump_extra=freq=keyframe',
      '-payload_type', String(VIDEO_PT), '-ssrc', String(VIDEO_SSRC | 0),
      '-f', 'rtp', `rtp://127.0.0.1:${rtp.address().port}?pkt_size=1200&rtcpport=${rtcp.address().port}`,
    ];
    const res = await run('ffmpeg', args, { timeoutMs: 120_000 });
    if (res.code !== 0) throw new Error(`ffmpeg (H.264 RTP) exited ${res.code}: ${res.stderr.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 300)); // let the last datagrams drain
  } finally {
    rtp.close();
    rtcp.close();
  }
  const first = received[0];
  if (!first || received.length < 100) throw new Error(`bench media: only ${received.length} RTP packets captured`);
  const seq0 = first.readUInt16BE(2);
  received.forEach((p, i) => {
    if (((p.readUInt16BE(2) - seq0) & 0xffff) !== i % 0x10000) throw new Error(`bench media: RTP packet lost at index ${i}`);
  });
  return received;
}

/**
 * Repeats the clip `loops` times: copy i gets sequence numbers shifted by
 * i*n and timestamps by i*clip length, so the stream never jumps back.
 * Pcap times follow the RTP timestamps; SIPp replays at that pace.
 */
function expand(clip: readonly Buffer[], s: BenchMediaSpec, loops: number): PcapUdpPacket[] {
  const first = clip[0]!;
  const seq0 = first.readUInt16BE(2);
  const ts0 = first.readUInt32BE(4);
  const loopTs = Math.round(s.clipS * TS_HZ);
  const baseUs = 1_700_000_000 * 1e6;
  const out: PcapUdpPacket[] = [];
  for (let i = 0; i < loops; i++) {
    for (let k = 0; k < clip.length; k++) {
      const pkt = Buffer.from(clip[k]!);
      const dt = ((pkt.readUInt32BE(4) - ts0) >>> 0) + i * loopTs;
      pkt.writeUInt16BE((seq0 + i * clip.length + k) & 0xffff, 2);
      pkt.writeUInt32BE((ts0 + dt) >>> 0, 4);
      const prev = out[out.length - 1];
      let timeUs = baseUs + Math.round((dt * 1e6) / TS_HZ);
      // Packets of one frame share a timestamp: 10 us apart keeps their order.
      if (prev && timeUs <= prev.timeUs) timeUs = prev.timeUs + 10;
      out.push({ timeUs, srcPort: 40000, dstPort: 40002, payload: pkt });
    }
  }
  return out;
}

/** Makes (or reuses) the bench media in `dir`. */
export async function makeBenchMedia(dir: string, spec: BenchMediaSpec): Promise<BenchMedia> {
  mkdirSync(dir, { recursive: true });
  const h264Pcap = path.join(dir, 'h264.pcap');
  const pcmaRaw = path.join(dir, 'pcma.al');
  const keyFile = path.join(dir, 'media.json');
  const key = JSON.stringify({ v: 1, spec });
  let stats: { videoPps: number; videoKbps: number } | undefined;
  try {
    const saved = JSON.parse(readFileSync(keyFile, 'utf8')) as { key: string; videoPps: number; videoKbps: number };
    if (saved.key === key && existsSync(h264Pcap) && existsSync(pcmaRaw)) stats = saved;
  } catch {
    // no usable key file: generate
  }
  if (!stats) {
    const clip = await captureClip(spec);
    const loops = Math.ceil(spec.totalS / spec.clipS);
    writeFileSync(`${h264Pcap}.tmp`, writePcap(expand(clip, spec, loops)));
    renameSync(`${h264Pcap}.tmp`, h264Pcap);
    const bytes = clip.reduce((a, p) => a + p.length, 0);
    stats = { videoPps: clip.length / spec.clipS, videoKbps: (bytes * 8) / spec.clipS / 1000 };
    const res = await run('ffmpeg', [
      '-hide_banner', '-nostdin', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', `sine=frequency=440:beep_factor=2:sample_rate=8000:duration=${spec.clipS}`,
      '-ar', '8000', '-ac', '1', '-c:a', 'pcm_alaw', '-f', 'alaw', `${pcmaRaw}.tmp`,
    ], { timeoutMs: 30_000 });
    if (res.code !== 0) throw new Error(`ffmpeg (A-law) exited ${res.code}: ${res.stderr.slice(-2000)}`);
    renameSync(`${pcmaRaw}.tmp`, pcmaRaw);
    writeFileSync(keyFile, JSON.stringify({ key, ...stats }));
  }
  return { dir, h264Pcap, pcmaRaw, videoPps: stats.videoPps, videoKbps: stats.videoKbps, spec };
}
