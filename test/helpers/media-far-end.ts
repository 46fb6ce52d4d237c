/**
 * A far end per codec: SIPp answers the gateway's INVITE naming the codecs
 * (test/fixtures/media/uas-codec.xml) and ffmpeg sends real RTP in those
 * codecs to the ports of the gateway's SDP offer (read from SIPp's message
 * log). The answer's own ports are UDP sinks the test may read.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSippUas, type SippProcess } from './sipp.js';
import { spawnChild, stopChild } from './proc.js';
import { freeUdpPort, freeUdpPortRange } from './ports.js';
import { waitUntil } from './wait.js';

export type FarAudioCodec = 'opus' | 'g722' | 'pcmu' | 'pcma' | 'speex16';
export type FarVideoCodec = 'h264' | 'vp8';

interface CodecDef { pt: number; rtpmap: string; fmtp?: string; ffmpeg: string[]; pktSize?: number }

/** What SIPp answers and how ffmpeg encodes, per codec (20 ms audio packets). */
export const FAR_CODECS: Record<FarAudioCodec | FarVideoCodec, CodecDef> = {
  opus: { pt: 111, rtpmap: 'opus/48000/2', ffmpeg: ['-c:a', 'libopus', '-b:a', '32k', '-frame_duration', '20', '-application', 'voip', '-ar', '48000', '-ac', '1'] },
  g722: { pt: 9, rtpmap: 'G722/8000', ffmpeg: ['-c:a', 'g722', '-ar', '16000', '-ac', '1'], pktSize: 172 },
  pcmu: { pt: 0, rtpmap: 'PCMU/8000', ffmpeg: ['-c:a', 'pcm_mulaw', '-ar', '8000', '-ac', '1'], pktSize: 172 },
  pcma: { pt: 8, rtpmap: 'PCMA/8000', ffmpeg: ['-c:a', 'pcm_alaw', '-ar', '8000', '-ac', '1'], pktSize: 172 },
  speex16: { pt: 98, rtpmap: 'speex/16000', ffmpeg: ['-c:a', 'libspeex', '-ar', '16000', '-ac', '1'] },
  h264: {
    pt: 96, rtpmap: 'H264/90000', fmtp: 'profile-level-id=42e01f;packetization-mode=1',
    ffmpeg: ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-g', '25', '-bf', '0'],
  },
  vp8: {
    pt: 100, rtpmap: 'VP8/90000', fmtp: 'max-fr=30',
    ffmpeg: ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '400k', '-g', '25', '-pix_fmt', 'yuv420p'],
  },
};

const SCENARIO = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/media/uas-codec.xml');

export interface SendOptions {
  /**
   * A/V sync pattern instead of the test pattern and tone: the picture is
   * white for the first 200 ms of every 2 s (black otherwise) and a 1 kHz
   * beep sounds over exactly the same 200 ms, so the output's A/V offset is
   * measurable (see `measureAvOffset`). Noise makes frames ~4 packets big.
   */
  syncPattern?: boolean;
  /** GOP length in frames (25 fps). Default 25. */
  gop?: number;
}

export interface CodecFarEnd {
  sipp: SippProcess;
  sipPort: number;
  /** The ports of the SDP answer (nothing listens unless the test binds them). */
  audioSink: number;
  videoSink: number;
  /**
   * Waits for the gateway's INVITE and ACK, then starts ffmpeg sending
   * `seconds` of a 440 Hz tone and a test pattern (25 fps) to the offer's ports.
   * `via` rewrites the destination (an impairment relay in between).
   */
  sendMedia(seconds: number, via?: (kind: 'audio' | 'video', port: number) => number | Promise<number>, opts?: SendOptions): Promise<{ audioPort: number; videoPort: number }>;
  close(): Promise<void>;
}

/** ffmpeg argv sending `seconds` of audio and video as RTP in the given codecs to 127.0.0.1. */
export function ffmpegRtpArgs(o: SendOptions & {
  audio: FarAudioCodec; video: FarVideoCodec; audioPort: number; videoPort: number; seconds: number; ssrcs?: [number, number];
}): string[] {
  const a = FAR_CODECS[o.audio];
  const v = FAR_CODECS[o.video];
  const [aSsrc, vSsrc] = o.ssrcs ?? [1111, 2222];
  const url = (port: number, pktSize?: number): string => `rtp://127.0.0.1:${port}?pkt_size=${pktSize ?? 1200}`;
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'error',
    ...(o.syncPattern
      ? [
        '-re', '-f', 'lavfi', '-i', `sine=f=1000:r=48000:d=${o.seconds},volume=enable='gte(mod(t,2),0.2)':volume=0`,
        '-re', '-f', 'lavfi', '-i', `color=c=black:s=320x240:r=25:d=${o.seconds},drawbox=enable='lt(mod(t,2),0.2)':color=white:t=fill,noise=alls=10:allf=t+u`,
      ]
      : [
        '-re', '-f', 'lavfi', '-i', `sine=f=440:r=48000:d=${o.seconds}`,
        '-re', '-f', 'lavfi', '-i', `testsrc2=s=320x240:r=25:d=${o.seconds}`,
      ]),
    '-map', '0:a', ...a.ffmpeg, '-payload_type', String(a.pt), '-ssrc', String(aSsrc), '-f', 'rtp', url(o.audioPort, a.pktSize),
    '-map', '1:v', ...v.ffmpeg.map((x, i, arr) => (arr[i - 1] === '-g' && o.gop ? String(o.gop) : x)),
    // About 4 packets a frame: loss then hits frames the way it does in real calls.
    ...(o.syncPattern ? ['-b:v', '1M', '-maxrate', '1M', '-bufsize', '80k'] : []),
    '-payload_type', String(v.pt), '-ssrc', String(vSsrc), '-f', 'rtp', url(o.videoPort),
  ];
}

/** The gateway's audio/video RTP ports from the INVITE SIPp received. */
export function offerPorts(sipp: SippProcess): { audioPort: number; videoPort: number } | null {
  const invite = sipp.sipMessages().find((m) => m.direction === 'received' && m.method === 'INVITE' && m.status === null);
  const a = invite && /^m=audio (\d+)/m.exec(invite.text);
  const v = invite && /^m=video (\d+)/m.exec(invite.text);
  return a && v ? { audioPort: Number(a[1]), videoPort: Number(v[1]) } : null;
}

export async function startCodecFarEnd(audio: FarAudioCodec, video: FarVideoCodec): Promise<CodecFarEnd> {
  const audioSink = await freeUdpPortRange(2);
  const videoSink = await freeUdpPortRange(2);
  const a = FAR_CODECS[audio];
  const v = FAR_CODECS[video];
  const sipp = await startSippUas({
    scenario: SCENARIO, sipPort: await freeUdpPort(), mediaPort: await freeUdpPortRange(4),
    vars: {
      audio_sink: String(audioSink), audio_pt: String(a.pt), audio_rtpmap: a.rtpmap,
      video_sink: String(videoSink), video_pt: String(v.pt), video_rtpmap: v.rtpmap, video_fmtp: v.fmtp ?? 'x=0',
    },
  });
  const children: { child: import('node:child_process').ChildProcess; exited: Promise<number | null> }[] = [];
  return {
    sipp, sipPort: sipp.sipPort, audioSink, videoSink,
    async sendMedia(seconds, via = (_k, p) => p, opts = {}) {
      const ports = await waitUntil(() => offerPorts(sipp), 10_000, 50, 'INVITE at the far end');
      await waitUntil(() => sipp.sipMessages().some((m) => m.direction === 'received' && m.method === 'ACK'), 10_000, 50, 'ACK');
      const audioTo = await via('audio', ports.audioPort);
      const videoTo = await via('video', ports.videoPort);
      const args = ffmpegRtpArgs({ audio, video, audioPort: audioTo, videoPort: videoTo, seconds, ...opts });
      children.push(spawnChild('ffmpeg', args));
      return ports;
    },
    async close() {
      for (const c of children) await stopChild(c.child, c.exited, 2000);
      await sipp.close();
    },
  };
}

/**
 * The A/V offset of a recording of the sync pattern (ms, video minus audio:
 * positive = video late): the times the picture turns white and the beep
 * starts, paired per 2 s period, median of the differences.
 */
export async function measureAvOffset(file: string): Promise<{ offsetMs: number; pairs: number; flashes: number[]; beeps: number[] }> {
  const { run } = await import('./proc.js');
  const v = await run('ffprobe', ['-v', 'error', '-f', 'lavfi', `movie=${file},signalstats`, '-show_entries', 'frame=pts_time:frame_tags=lavfi.signalstats.YAVG', '-of', 'csv=p=0'], { timeoutMs: 60_000 });
  const a = await run('ffprobe', ['-v', 'error', '-f', 'lavfi', `amovie=${file},astats=metadata=1:reset=1`, '-show_entries', 'frame=pts_time:frame_tags=lavfi.astats.Overall.RMS_level', '-of', 'csv=p=0'], { timeoutMs: 60_000 });
  const rows = (text: string): [number, number][] => text.trim().split('\n').map((l) => l.split(',').map(Number) as [number, number]).filter((r) => r.length === 2 && Number.isFinite(r[0]));
  const edges = (r: [number, number][], on: (x: number) => boolean): number[] => {
    const out: number[] = [];
    let prev = true;
    for (const [t, x] of r) {
      const now = on(x);
      if (now && !prev) out.push(t * 1000);
      prev = now;
    }
    return out;
  };
  const flashes = edges(rows(v.stdout), (y) => y > 128);
  const beeps = edges(rows(a.stdout), (db) => Number.isFinite(db) && db > -40);
  const diffs: number[] = [];
  for (const f of flashes) {
    const b = beeps.find((x) => Math.abs(x - f) < 700);
    if (b !== undefined) diffs.push(f - b);
  }
  diffs.sort((x, y) => x - y);
  return { offsetMs: diffs.length ? diffs[Math.floor(diffs.length / 2)]! : NaN, pairs: diffs.length, flashes, beeps };
}
