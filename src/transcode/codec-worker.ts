/**
 * A codec worker thread: runs the AAC engines of the calls it was given,
 * synchronously, off the event loop. Messages come and go in batches (one
 * postMessage per turn of either side).
 */
import { parentPort } from 'node:worker_threads';
import { AacEngine, type AacOut } from './aac-engine.js';
import type { FromWorker, ToWorker } from './codec-messages.js';

const port = parentPort;
if (port === null) throw new Error('codec-worker.ts runs as a worker thread');

const engines = new Map<number, AacEngine>();

/** Each frame in a buffer of its own, moved (not cloned) to the event loop's thread. */
let transfer: ArrayBuffer[] = [];
const copy = (outs: AacOut[]): { raw: Uint8Array; ptsMs: number }[] => outs.map((o) => {
  const raw = new Uint8Array(o.raw);
  transfer.push(raw.buffer);
  return { raw, ptsMs: o.ptsMs };
});

port.on('message', (batch: ToWorker[]) => {
  const replies: FromWorker[] = [];
  const written = new Map<number, { frames: AacOut[]; done: number }>();
  for (const m of batch) {
    if (m.t === 'open') {
      try {
        const e = new AacEngine(m.opts);
        engines.set(m.id, e);
        replies.push({ t: 'opened', id: m.id, asc: new Uint8Array(e.asc) });
      } catch (err) {
        replies.push({ t: 'failed', id: m.id, message: (err as Error).message });
      }
    } else if (m.t === 'write') {
      const e = engines.get(m.id);
      let w = written.get(m.id);
      if (w === undefined) written.set(m.id, (w = { frames: [], done: 0 }));
      w.done++;
      if (e === undefined) continue;
      try {
        w.frames.push(...e.write(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength), m.ptsMs));
      } catch (err) {
        // Only this call's engine goes: the worker and the other calls on it carry on.
        engines.delete(m.id);
        e.free();
        replies.push({ t: 'failed', id: m.id, message: `AAC engine: ${(err as Error).message}` });
      }
    } else {
      const e = engines.get(m.id);
      engines.delete(m.id);
      const w = written.get(m.id);
      written.delete(m.id);
      if (w !== undefined && e !== undefined) replies.push({ t: 'frames', id: m.id, frames: copy(w.frames), done: w.done, decodeErrors: e.decodeErrors });
      let frames: AacOut[] = [];
      try {
        frames = e?.flush() ?? [];
      } catch {
        // The flush's last frames are lost; the close still completes.
      } finally {
        e?.free();
      }
      replies.push({ t: 'closed', id: m.id, frames: copy(frames), decodeErrors: e?.decodeErrors ?? 0 });
    }
  }
  for (const [id, w] of written) {
    if (engines.has(id)) replies.push({ t: 'frames', id, frames: copy(w.frames), done: w.done, decodeErrors: engines.get(id)?.decodeErrors ?? 0 });
  }
  port.postMessage(replies, transfer);
  transfer = [];
});
