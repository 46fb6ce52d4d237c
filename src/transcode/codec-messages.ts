/**
 * What the event loop and a codec worker say to each other (codec-pool.ts,
 * codec-worker.ts). Both sides send arrays: every message of one event-loop
 * turn goes in one postMessage.
 */
import type { AacEngineOptions } from './aac-engine.js';

export type ToWorker =
  | { t: 'open'; id: number; opts: AacEngineOptions }
  | { t: 'write'; id: number; data: Uint8Array; ptsMs: number }
  | { t: 'close'; id: number };

export type FromWorker =
  | { t: 'opened'; id: number; asc: Uint8Array }
  | { t: 'failed'; id: number; message: string }
  /** `done` writes were processed since the last report (the sender's queue bound). */
  | { t: 'frames'; id: number; frames: { raw: Uint8Array; ptsMs: number }[]; done: number; decodeErrors: number }
  | { t: 'closed'; id: number; frames: { raw: Uint8Array; ptsMs: number }[]; decodeErrors: number };
