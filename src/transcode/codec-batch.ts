/**
 * One postMessage between the event loop and a codec worker: the media
 * records of a period (payloads going in, encoded frames coming back) packed
 * into two transferable arrays — one for (id, pts, key, offset, length), one
 * for the bytes — with the other messages (open, close, opened, …) beside
 * them in their places. Cloning one object per packet and moving one buffer
 * per frame cost more on the event loop than the packets' work did
 * (docs/benchmarks.md); two arrays are moved whatever the count.
 */

/** Numbers per record in `meta`: id, ptsMs, key (0/1), offset, length. */
const FIELDS = 5;
const MIN_BYTES = 16 * 1024;
const MIN_RECORDS = 64;

export interface PackedBatch<M> {
  /** Records in the batch. */
  count: number;
  meta: Float64Array;
  data: Uint8Array;
  /** The other messages, in order, each with the number of records before it. */
  other: M[];
  otherAt: number[];
}

/** Gathers one period's records and messages; `take` hands them over and starts afresh. */
export class BatchBuilder<M> {
  #meta = new Float64Array(MIN_RECORDS * FIELDS);
  #data = new Uint8Array(MIN_BYTES);
  #count = 0;
  #used = 0;
  #other: M[] = [];
  #otherAt: number[] = [];
  #transfer: ArrayBuffer[] = [];

  get empty(): boolean {
    return this.#count === 0 && this.#other.length === 0;
  }

  /** Copies `bytes` in as one record. */
  record(id: number, ptsMs: number, key: boolean, bytes: Uint8Array): void {
    if ((this.#count + 1) * FIELDS > this.#meta.length) {
      const m = new Float64Array(this.#meta.length * 2);
      m.set(this.#meta);
      this.#meta = m;
    }
    if (this.#used + bytes.length > this.#data.length) {
      const d = new Uint8Array(Math.max(this.#data.length * 2, this.#used + bytes.length));
      d.set(this.#data.subarray(0, this.#used));
      this.#data = d;
    }
    const o = this.#count * FIELDS;
    this.#meta[o] = id;
    this.#meta[o + 1] = ptsMs;
    this.#meta[o + 2] = key ? 1 : 0;
    this.#meta[o + 3] = this.#used;
    this.#meta[o + 4] = bytes.length;
    this.#data.set(bytes, this.#used);
    this.#used += bytes.length;
    this.#count++;
  }

  /** A message in its place after the records so far; `transfer`: buffers it carries that move with it. */
  other(m: M, transfer: ArrayBuffer[] = []): void {
    this.#other.push(m);
    this.#otherAt.push(this.#count);
    for (const t of transfer) this.#transfer.push(t);
  }

  /** The batch and what to transfer with it; the builder is empty again (its next arrays sized like this batch's). */
  take(): { batch: PackedBatch<M>; transfer: ArrayBuffer[] } {
    const batch: PackedBatch<M> = { count: this.#count, meta: this.#meta, data: this.#data, other: this.#other, otherAt: this.#otherAt };
    const transfer = [this.#meta.buffer as ArrayBuffer, this.#data.buffer as ArrayBuffer, ...this.#transfer];
    this.#meta = new Float64Array(Math.max(MIN_RECORDS, this.#count) * FIELDS);
    this.#data = new Uint8Array(Math.max(MIN_BYTES, this.#used));
    this.#count = 0;
    this.#used = 0;
    this.#other = [];
    this.#otherAt = [];
    this.#transfer = [];
    return { batch, transfer };
  }
}

/** Walks a batch in order: each record as a Buffer view on the batch's bytes (no copy), each other message in its place. */
export function readBatch<M>(
  b: PackedBatch<M>,
  onRecord: (id: number, ptsMs: number, key: boolean, bytes: Buffer) => void,
  onOther: (m: M) => void,
): void {
  let next = 0;
  for (let i = 0; i <= b.count; i++) {
    while (next < b.other.length && (b.otherAt[next] as number) <= i) onOther(b.other[next++] as M);
    if (i === b.count) break;
    const o = i * FIELDS;
    const m = b.meta;
    onRecord(m[o] as number, m[o + 1] as number, m[o + 2] === 1, Buffer.from(b.data.buffer, b.data.byteOffset + (m[o + 3] as number), m[o + 4] as number));
  }
}
