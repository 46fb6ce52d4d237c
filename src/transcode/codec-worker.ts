/**
 * A codec worker thread: runs the codec engines of the calls it was given
 * (audio → AAC, VP8 or H.264 → H.264), synchronously, off the event loop,
 * and makes generated media on request. Messages come and go in packed
 * batches (codec-batch.ts): one postMessage per period either way.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { AacEngine } from './aac-engine.js';
import { H264Engine } from './h264-engine.js';
import { makeSlate } from './slate-engine.js';
import { BatchBuilder, readBatch, type PackedBatch } from './codec-batch.js';
import type { EngineOptions, FromWorkerMessage, ToWorker } from './codec-messages.js';

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

/** What goes back at the end of each batch: frames as records, the rest beside them. */
const replies = new BatchBuilder<FromWorkerMessage>();

function sendFrames(id: number, outs: Out[]): void {
  for (const o of outs) replies.record(id, o.ptsMs, o.key === true, o.raw);
}

function control(m: ToWorker, progress: (id: number, e: Engine | undefined) => void): void {
  switch (m.t) {
    case 'open':
      try {
        const { engine, config } = openEngine(m.opts);
        engines.set(m.id, engine);
        replies.other({ t: 'opened', id: m.id, config });
      } catch (err) {
        replies.other({ t: 'failed', id: m.id, message: (err as Error).message });
      }
      return;
    case 'keyframe':
      engines.get(m.id)?.requestKeyframe?.();
      return;
    case 'make':
      try {
        // Each in a buffer of its own, moved (not cloned) to the event loop's thread.
        const data = makeSlate(m.req).map((b) => new Uint8Array(b));
        replies.other({ t: 'made', id: m.id, data }, data.map((d) => d.buffer as ArrayBuffer));
      } catch (err) {
        replies.other({ t: 'failed', id: m.id, message: (err as Error).message });
      }
      return;
    case 'close': {
      const e = engines.get(m.id);
      engines.delete(m.id);
      progress(m.id, e);
      try {
        sendFrames(m.id, e?.flush() ?? []);
      } catch {
        // The flush's last frames are lost; the close still completes.
      } finally {
        e?.free();
      }
      replies.other({ t: 'closed', id: m.id, decodeErrors: e?.decodeErrors ?? 0 });
      collectSoon();
    }
  }
}

port.on('message', (batch: PackedBatch<ToWorker>) => {
  /** Writes processed per engine in this batch, reported once (the sender's queue bound). */
  const done = new Map<number, number>();
  const progress = (id: number, e: Engine | undefined): void => {
    const n = done.get(id);
    if (n === undefined) return;
    done.delete(id);
    replies.other({ t: 'progress', id, done: n, decodeErrors: e?.decodeErrors ?? 0 });
  };
  readBatch(
    batch,
    (id, ptsMs, key, data) => {
      done.set(id, (done.get(id) ?? 0) + 1);
      const e = engines.get(id);
      if (e === undefined) return;
      try {
        sendFrames(id, e.write(data, ptsMs, key));
      } catch (err) {
        // Only this call's engine goes: the worker and the other calls on it carry on.
        engines.delete(id);
        done.delete(id);
        e.free();
        collectSoon();
        replies.other({ t: 'failed', id, message: `codec engine: ${(err as Error).message}` });
      }
    },
    (m) => control(m, progress),
  );
  for (const id of [...done.keys()]) progress(id, engines.get(id));
  if (replies.empty) return;
  const { batch: out, transfer } = replies.take();
  port.postMessage(out, transfer);
});
