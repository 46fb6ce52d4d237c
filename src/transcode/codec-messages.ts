/**
 * What the event loop and a codec worker say to each other (codec-pool.ts,
 * codec-worker.ts). Both sides send arrays: every message of one event-loop
 * turn goes in one postMessage.
 */
import type { AacEngineOptions } from './aac-engine.js';
import type { H264EngineOptions } from './h264-engine.js';
import type { SlateRequest } from './slate-engine.js';

/** Which engine a stream runs: audio → AAC, or VP8 or H.264 → H.264. */
export type EngineOptions = ({ kind: 'aac' } & AacEngineOptions) | ({ kind: 'h264' } & H264EngineOptions);

/** One encoded frame: an AAC access unit, or an H.264 access unit in Annex B (`key` set). */
export interface EncodedFrame {
  raw: Uint8Array;
  ptsMs: number;
  key?: boolean;
}

export type ToWorker =
  | { t: 'open'; id: number; opts: EngineOptions }
  | { t: 'write'; id: number; data: Uint8Array; ptsMs: number; key: boolean }
  /** The next output frame is a keyframe (video). */
  | { t: 'keyframe'; id: number }
  | { t: 'close'; id: number }
  /** A one-off: generated media (slate.ts). */
  | { t: 'make'; id: number; req: SlateRequest };

export type FromWorker =
  /** `config`: the AAC AudioSpecificConfig (empty for video). */
  | { t: 'opened'; id: number; config: Uint8Array }
  | { t: 'failed'; id: number; message: string }
  /** `done` writes were processed since the last report (the sender's queue bound). */
  | { t: 'frames'; id: number; frames: EncodedFrame[]; done: number; decodeErrors: number }
  | { t: 'closed'; id: number; frames: EncodedFrame[]; decodeErrors: number }
  | { t: 'made'; id: number; data: Uint8Array[] };
