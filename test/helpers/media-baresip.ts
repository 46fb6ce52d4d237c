/**
 * baresip 1.0 as an auto-answering audio far end (G.711, a 440 Hz tone wav
 * as its microphone) with an RTP timeout: it hangs up when no RTP arrives from
 * us for `rtpTimeoutS` — the softphone behaviour SPEC §9.4 records.
 * Settings from PEERS.md: `net_interface 127.0.0.1`; auto answer only for
 * the account's own user (`gw`); no stdio module (no terminal in tests).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnChild, stopChild } from './proc.js';
import net from 'node:net';
import { freeTcpPort, freeUdpPort, freeUdpPortRange } from './ports.js';
import { waitUntil } from './wait.js';
import { udpPortBound } from './sipp.js';

export interface BaresipFarEnd {
  sipPort: number;
  /** The request URI to call. */
  uri: string;
  /** stdout + stderr so far. */
  log(): string;
  /** Events from its ctrl_tcp event stream (`{type, param, ...}`), e.g. `CALL_DTMF_START` with the digit. */
  readonly events: { type: string; param?: string }[];
  /** Places a call to `uri` (ctrl_tcp `dial`, as a conference server's auto-dial would). */
  dial(uri: string): void;
  close(): Promise<void>;
}

/**
 * Config lines for a live H.264 video source and codec (baresip-ffmpeg):
 * avformat reads FFmpeg's lavfi `testsrc2` (device syntax `lavfi,<graph>`),
 * avcodec encodes with libx264. baresip answers our H.264 offer with its own
 * payload-type numbering and sends under one of ours (PEERS.md).
 */
export const BARESIP_VIDEO_LINES: readonly string[] = [
  'module avcodec.so', 'module avformat.so', 'module swscale.so',
  'video_source avformat,lavfi,testsrc2=size=640x360:rate=25',
  'video_size 640x360', 'video_fps 25', 'video_bitrate 800000', 'avcodec_h264enc libx264',
];

/**
 * `video`: also send live H.264 video (baresip-ffmpeg: avformat reads
 * FFmpeg's lavfi `testsrc2`, avcodec encodes with libx264) and take video.
 */
export async function startBaresip(opts: { rtpTimeoutS: number; video?: boolean }): Promise<BaresipFarEnd> {
  const dir = mkdtempSync(path.join(tmpdir(), 'baresip-'));
  const sipPort = await freeUdpPort();
  // Its own RTP ports: libre binds with SO_REUSEADDR, so two baresips started in
  // the same second may share a port and receive each other's RTP.
  const rtpBase = await freeUdpPortRange(10);
  const ctrlPort = await freeTcpPort();
  // Its microphone: a 440 Hz tone, 8 kHz mono (ausine only does 48 kHz; aufile loops the file).
  const wav = path.join(dir, 'tone.wav');
  execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=f=440:d=30', '-ar', '8000', '-ac', '1', '-y', wav]);
  writeFileSync(path.join(dir, 'config'), [
    'poll_method epoll',
    `sip_listen 127.0.0.1:${sipPort}`,
    'net_interface 127.0.0.1',
    `rtp_ports ${rtpBase}-${rtpBase + 9}`,
    'audio_player aufile,/dev/null',
    `audio_source aufile,${wav}`,
    'audio_alert aufile,/dev/null',
    `rtp_timeout ${opts.rtpTimeoutS}`,
    `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
    'module_app ctrl_tcp.so',
    'module_path /usr/lib/baresip/modules',
    'module g711.so',
    'module aufile.so',
    ...(opts.video ? BARESIP_VIDEO_LINES : []),
    'module account.so',
    'module_app menu.so',
    '',
  ].join('\n'));
  writeFileSync(path.join(dir, 'accounts'), '<sip:gw@127.0.0.1>;regint=0;answermode=auto\n');
  const logFile = path.join(dir, 'out.log');
  writeFileSync(logFile, '');
  const proc = spawnChild('baresip', ['-f', dir]);
  proc.child.stdout?.on('data', (d: Buffer) => writeFileSync(logFile, d, { flag: 'a' }));
  proc.child.stderr?.on('data', (d: Buffer) => writeFileSync(logFile, d, { flag: 'a' }));
  const log = (): string => readFileSync(logFile, 'utf8');
  await waitUntil(() => udpPortBound(sipPort) && log().includes('baresip is ready'), 10_000, 50, 'baresip ready');
  // ctrl_tcp speaks netstrings (`<len>:<json>,`) and takes a single connection (PEERS.md).
  const events: { type: string; param?: string }[] = [];
  const ctrl = net.connect(ctrlPort, '127.0.0.1');
  let buf = '';
  ctrl.setEncoding('utf8');
  ctrl.on('data', (d: string) => {
    buf += d;
    for (;;) {
      const colon = buf.indexOf(':');
      if (colon < 0) break;
      const len = Number(buf.slice(0, colon));
      if (buf.length < colon + 1 + len + 1) break;
      try {
        events.push(JSON.parse(buf.slice(colon + 1, colon + 1 + len)) as { type: string; param?: string });
      } catch {
        // not an event
      }
      buf = buf.slice(colon + 1 + len + 1);
    }
  });
  ctrl.on('error', () => undefined);
  await new Promise<void>((resolve) => ctrl.once('connect', () => resolve()));
  return {
    sipPort,
    events,
    uri: `sip:gw@127.0.0.1:${sipPort}`,
    log,
    dial: (uri: string) => {
      const json = JSON.stringify({ command: 'dial', params: uri, token: 'dial' });
      ctrl.write(`${Buffer.byteLength(json)}:${json},`);
    },
    close: async () => {
      ctrl.destroy();
      await stopChild(proc.child, proc.exited, 2000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
