import type { AudioFrameCodec, VideoFrameCodec } from './codecs.js';

/**
 * A depacketized media frame: the unit that flows from rtp/ through the output
 * pipeline into FLV tags. `ptsMs` is on the call's media clock (milliseconds,
 * monotonic per track; lip sync aligns the tracks).
 */
export type MediaFrame = VideoFrame | AudioFrame;

export interface VideoFrame {
  readonly kind: 'video';
  readonly codec: VideoFrameCodec;
  /** Presentation time in ms on the call's media clock. */
  readonly ptsMs: number;
  /** True for an IDR access unit (H.264) or a keyframe (VP8). */
  readonly key: boolean;
  /** H.264: the access unit's NAL units without start codes. VP8: one element, the frame. */
  readonly nalus: readonly Buffer[];
}

export interface AudioFrame {
  readonly kind: 'audio';
  readonly codec: AudioFrameCodec;
  readonly ptsMs: number;
  /** RTP clock rate of the codec (8000 for G.711). */
  readonly clockRate: number;
  /** The payload of one RTP packet (G.711: one byte per sample). */
  readonly data: Buffer;
}
