/**
 * A far end sending heavy video (noisy 640×360 H.264 at several Mbit/s, plus
 * G.711 A-law), for RTMP back-pressure tests that must outrun the kernel's
 * socket buffers in seconds. Signalling by SIPp (test/fixtures/media/uas-codec.xml),
 * RTP by ffmpeg to the ports of the gateway's offer.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { startSippUas, type SippProcess } from './sipp.js';
import { offerPorts } from './media-far-end.js';
import { spawnChild, stopChild } from './proc.js';
import { freeUdpPort, freeUdpPortRange } from './ports.js';
import { waitUntil } from './wait.js';

const SCENARIO = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/media/uas-codec.xml');

export interface HeavyFarEnd {
  sipp: SippProcess;
  sipPort: number;
  /** Waits for the INVITE and ACK, then sends `seconds` of media. */
  sendMedia(seconds: number): Promise<void>;
  close(): Promise<void>;
}

export async function startHeavyFarEnd(opts: { videoBitrate?: string } = {}): Promise<HeavyFarEnd> {
  const sipp = await startSippUas({
    scenario: SCENARIO, sipPort: await freeUdpPort(), mediaPort: await freeUdpPortRange(4),
    vars: {
      audio_sink: String(await freeUdpPortRange(2)), audio_pt: '8', audio_rtpmap: 'PCMA/8000',
      video_sink: String(await freeUdpPortRange(2)), video_pt: '96', video_rtpmap: 'H264/90000',
      video_fmtp: 'profile-level-id=42e01f;packetization-mode=1',
    },
  });
  const rate = opts.videoBitrate ?? '6M';
  const children: { child: ChildProcess; exited: Promise<number | null> }[] = [];
  return {
    sipp,
    sipPort: sipp.sipPort,
    async sendMedia(seconds) {
      const ports = await waitUntil(() => offerPorts(sipp), 10_000, 50, 'INVITE at the far end');
      await waitUntil(() => sipp.sipMessages().some((m) => m.direction === 'received' && m.method === 'ACK'), 10_000, 50, 'ACK');
      children.push(spawnChild('ffmpeg', [
        '-hide_banner', '-nostdin', '-loglevel', 'error',
        '-re', '-f', 'lavfi', '-i', `sine=f=440:r=8000:d=${seconds}`,
        '-re', '-f', 'lavfi', '-i', `testsrc2=s=640x360:r=25:d=${seconds},noise=alls=60:allf=t`,
        '-map', '0:a', '-c:a', 'pcm_alaw', '-ar', '8000', '-ac', '1', '-payload_type', '8', '-ssrc', '1111',
        '-f', 'rtp', `rtp://127.0.0.1:${ports.audioPort}?pkt_size=172`,
        '-map', '1:v', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline',
        '-pix_fmt', 'yuv420p', '-g', '25', '-bf', '0', '-b:v', rate, '-maxrate', rate, '-bufsize', '1M',
        '-payload_type', '96', '-ssrc', '2222', '-f', 'rtp', `rtp://127.0.0.1:${ports.videoPort}?pkt_size=1200`,
      ]));
    },
    async close() {
      for (const c of children) await stopChild(c.child, c.exited, 2000);
      await sipp.close();
    },
  };
}
