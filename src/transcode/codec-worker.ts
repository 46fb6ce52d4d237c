/**
 * A codec worker thread: runs the codec engines of the calls it was given
 * (audio → AAC, VP8 or H.264 → H.264), synchronously, off the event loop,
 * and makes generated media on request. Messages come and go in batches (one
 * postMessage per turn of either side).
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { AacEngine } from './aac-engine.js';
import { H264Engine } from './h264-engine.js';
import { makeSlate } from './slate-engine.js';
import type { EncodedFrame, EngineOptions, FromWorker, ToWorker } from './codec-messages.js';

const port = parentPort;
if (port === null) throw new Error('codec-worker.ts runs as a worker thread');

interface Out {
  raw: Buffer;
  ptsMs: number;
  key?: boolean;
}

/** What the worker asks of an engine, audio or video. */
interface Engine {
  readonly decodeErrors: number;
  write(data: Buffer, ptsMs: number, key: boolean): Out[];
  flush(): Out[];
  free(): void;
  requestKeyframe?(): void;
}

function openEngine(o: EngineOptions): { engine: Engine; config: Uint8Array } {
  if (o.kind === 'h264') return { engine: new H264Engine(o), config: new Uint8Array(0) };
  const e = new AacEngine(o);
  return { engine: e, config: new Uint8Array(e.asc) };
}

const engines = new Map<number, Engine>();

/**
 * node-av gives a freed codec's native memory (~0.5 MB for an AAC encoder)
 * back only when the JavaScript wrapper is collected, and this thread's small
 * heap seldom needs a full collection: without one, every ended call's
 * engine stayed resident (measured: RSS grew ~0.2 MB per call cycle). So a
 * full collection runs on this thread (never the event loop's) a second after
 * engines were freed, at most once a second.
 */
v8.setFlagsFromString('--expose-gc');
const collect = vm.runInNewContext('gc') as () => void;
let collectQueued = false;
function collectSoon(): void {
  if (collectQueued) return;
  collectQueued = true;
  setTimeout(() => {
    collectQueued = false;
    collect();
  }, 1000).unref();
}

/** Each frame in a buffer of its own, moved (not cloned) to the event loop's thread. */
let transfer: ArrayBuffer[] = [];
const move = (buf: Buffer): Uint8Array => {
  const raw = new Uint8Array(buf);
  transfer.push(raw.buffer);
  return raw;
};
const moveFrames = (outs: Out[]): EncodedFrame[] => outs.map((o) => ({ raw: move(o.raw), ptsMs: o.ptsMs, ...(o.key === undefined ? {} : { key: o.key }) }));

port.on('message', (batch: ToWorker[]) => {
  const replies: FromWorker[] = [];
  const written = new Map<number, { frames: Out[]; done: number }>();
  for (const m of batch) {
    switch (m.t) {
      case 'open':
        try {
          const { engine, config } = openEngine(m.opts);
          engines.set(m.id, engine);
          replies.push({ t: 'opened', id: m.id, config });
        } catch (err) {
          replies.push({ t: 'failed', id: m.id, message: (err as Error).message });
        }
        break;
      case 'write': {
        const e = engines.get(m.id);
        let w = written.get(m.id);
        if (w === undefined) written.set(m.id, (w = { frames: [], done: 0 }));
        w.done++;
        if (e === undefined) break;
        try {
          w.frames.push(...e.write(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength), m.ptsMs, m.key));
        } catch (err) {
          // Only this call's engine goes: the worker and the other calls on it carry on.
          engines.delete(m.id);
          e.free();
          collectSoon();
          replies.push({ t: 'failed', id: m.id, message: `codec engine: ${(err as Error).message}` });
        }
        break;
      }
      case 'keyframe':
        engines.get(m.id)?.requestKeyframe?.();
        break;
      case 'make':
        try {
          replies.push({ t: 'made', id: m.id, data: makeSlate(m.req).map(move) });
        } catch (err) {
          replies.push({ t: 'failed', id: m.id, message: (err as Error).message });
        }
        break;
      case 'close': {
        const e = engines.get(m.id);
        engines.delete(m.id);
        const w = written.get(m.id);
        written.delete(m.id);
        if (w !== undefined && e !== undefined) {
          replies.push({ t: 'frames', id: m.id, frames: moveFrames(w.frames), done: w.done, decodeErrors: e.decodeErrors });
        }
        let frames: Out[] = [];
        try {
          frames = e?.flush() ?? [];
        } catch {
          // The flush's last frames are lost; the close still completes.
        } finally {
          e?.free();
        }
        replies.push({ t: 'closed', id: m.id, frames: moveFrames(frames), decodeErrors: e?.decodeErrors ?? 0 });
        collectSoon();
      }
    }
  }
  for (const [id, w] of written) {
    const e = engines.get(id);
    if (e !== undefined) replies.push({ t: 'frames', id, frames: moveFrames(w.frames), done: w.done, decodeErrors: e.decodeErrors });
  }
  port.postMessage(replies, transfer);
  transfer = [];
});
