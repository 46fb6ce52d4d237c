/**
 * The codec table: every codec the gateway knows, once. The configuration,
 * the SDP offer and answer, the RTP payload routes, the output pipeline and
 * the transcoders all read it; adding a codec starts here.
 *
 * - `encoding` / `clockRate` / `channels`: the SDP rtpmap (RFC 4566 §6,
 *   RFC 3551 §6 for the static payload types).
 * - `offerPt`: the payload type our offer uses (static where RFC 3551 has
 *   one; video payload types are dynamic, numbered from 96 by the offer).
 * - `frame`: the codec name media frames carry (null for telephone-event).
 * - `flvCopy`: true when FLV/RTMP carries the codec as it is (H.264; G.711 and
 *   Speex with `transcode.audio: copy`); false when it must be transcoded.
 */

/** Codec names as the configuration spells them (`codecs.audio`, `codecs.video`). */
export const AUDIO_CODEC_NAMES = ['opus', 'pcma', 'pcmu', 'g722', 'speex16', 'telephone-event'] as const;
export const VIDEO_CODEC_NAMES = ['h264', 'vp8'] as const;
export type AudioCodecName = (typeof AUDIO_CODEC_NAMES)[number];
export type VideoCodecName = (typeof VIDEO_CODEC_NAMES)[number];
export type CodecName = AudioCodecName | VideoCodecName;

/** Audio codecs as media frames name them. */
export type AudioFrameCodec = 'PCMA' | 'PCMU' | 'OPUS' | 'G722' | 'SPEEX';
export type VideoFrameCodec = 'H264' | 'VP8';

export interface CodecInfo {
  readonly kind: 'audio' | 'video';
  readonly encoding: string;
  readonly clockRate: number;
  readonly channels?: number;
  readonly offerPt: number | null;
  readonly fmtp?: string;
  readonly frame: AudioFrameCodec | VideoFrameCodec | null;
  readonly flvCopy: boolean;
}

export const CODECS: Readonly<Record<CodecName, CodecInfo>> = {
  opus: { kind: 'audio', encoding: 'opus', clockRate: 48000, channels: 2, offerPt: 111, fmtp: 'useinbandfec=1', frame: 'OPUS', flvCopy: false },
  pcma: { kind: 'audio', encoding: 'PCMA', clockRate: 8000, offerPt: 8, frame: 'PCMA', flvCopy: true },
  pcmu: { kind: 'audio', encoding: 'PCMU', clockRate: 8000, offerPt: 0, frame: 'PCMU', flvCopy: true },
  // G.722's RTP clock is 8000 although it samples at 16 kHz (RFC 3551 §4.5.2).
  g722: { kind: 'audio', encoding: 'G722', clockRate: 8000, offerPt: 9, frame: 'G722', flvCopy: false },
  speex16: { kind: 'audio', encoding: 'speex', clockRate: 16000, offerPt: 98, frame: 'SPEEX', flvCopy: true },
  'telephone-event': { kind: 'audio', encoding: 'telephone-event', clockRate: 8000, offerPt: 101, fmtp: '0-16', frame: null, flvCopy: false },
  h264: { kind: 'video', encoding: 'H264', clockRate: 90000, offerPt: null, frame: 'H264', flvCopy: true },
  vp8: { kind: 'video', encoding: 'VP8', clockRate: 90000, offerPt: null, frame: 'VP8', flvCopy: false },
};

/** The codec an SDP encoding name (any case) stands for, and its clock rate must match where given. */
export function codecByEncoding(encoding: string, clockRate?: number): CodecName | undefined {
  const e = encoding.toUpperCase();
  for (const [name, c] of Object.entries(CODECS) as [CodecName, CodecInfo][]) {
    if (c.encoding.toUpperCase() === e && (clockRate === undefined || c.clockRate === clockRate)) return name;
  }
  return undefined;
}

/** A codec by its configuration name or its SDP encoding name, any case (`PCMA`, `speex16`, `speex`, `H264`): what `stripCodecs` accepts. */
export function codecByName(name: string): CodecName | undefined {
  const n = name.trim().toLowerCase();
  return Object.hasOwn(CODECS, n) ? (n as CodecName) : codecByEncoding(n);
}

/** RFC 3551 static payload types a far end may use without an rtpmap line. */
export const STATIC_PAYLOAD_TYPES: Readonly<Record<number, CodecName>> = { 0: 'pcmu', 8: 'pcma', 9: 'g722' };

/** Audio frame codecs the media engine receives (every codec with a frame name). */
export const AUDIO_FRAME_CODECS: ReadonlySet<string> = new Set(
  Object.values(CODECS).filter((c) => c.kind === 'audio' && c.frame !== null).map((c) => c.frame as string),
);
