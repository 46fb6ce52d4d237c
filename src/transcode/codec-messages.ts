/**
 * What the event loop and a codec worker say to each other (codec-pool.ts,
 * codec-worker.ts). Each side sends one PackedBatch per period
 * (codec-batch.ts): payloads in and frames out are its records, the messages
 * below travel beside them in order.
 */
import type { AacEngineOptions } from './aac-engine.js';
import type { H264EngineOptions } from './h264-engine.js';
import type { SlateRequest } from './slate-engine.js';

/** Which engine a stream runs: audio → AAC, or VP8 or H.264 → H.264. */
export type EngineOptions = ({ kind: 'aac' } & AacEngineOptions) | ({ kind: 'h264' } & H264EngineOptions);

/** To a worker, beside the batch's records (one payload each: id, ptsMs, key, bytes). */
export type ToWorker =
  | { t: 'open'; id: number; opts: EngineOptions }
  /** The next output frame is a keyframe (video). */
  | { t: 'keyframe'; id: number }
  | { t: 'close'; id: number }
  /** A one-off: generated media (slate.ts). */
  | { t: 'make'; id: number; req: SlateRequest };

/** From a worker, beside the batch's records (one encoded frame each: an AAC access unit, or an H.264 one in Annex B with `key`). */
export type FromWorkerMessage =
  /** `config`: the AAC AudioSpecificConfig (empty for video). */
  | { t: 'opened'; id: number; config: Uint8Array }
  | { t: 'failed'; id: number; message: string }
  /** `done` writes were processed since the last report (the sender's queue bound). */
  | { t: 'progress'; id: number; done: number; decodeErrors: number }
  /** After the engine's last frames. */
  | { t: 'closed'; id: number; decodeErrors: number }
  | { t: 'made'; id: number; data: Uint8Array[] };

/** What a stream's listener gets: the messages, and each frame (a view on the batch's bytes). */
export type FromWorker = FromWorkerMessage | { t: 'frame'; id: number; raw: Buffer; ptsMs: number; key: boolean };
