/**
 * The packed batch between the event loop and a codec worker: records and
 * messages come out in the order they went in, with their bytes, across
 * growth of both arrays and across a structured clone with transfer.
 */
import { describe, it, expect } from 'vitest';
import { MessageChannel } from 'node:worker_threads';
import { BatchBuilder, readBatch, type PackedBatch } from '../../../src/transcode/codec-batch.js';

type Msg = { t: string; id: number };

function walk(b: PackedBatch<Msg>): string[] {
  const out: string[] = [];
  readBatch(b, (id, pts, key, bytes) => out.push(`r${id}@${pts}${key ? 'K' : ''}:${bytes.toString('hex')}`), (m) => out.push(`${m.t}${m.id}`));
  return out;
}

describe('BatchBuilder / readBatch', () => {
  it('keeps records and messages in order, each record its own bytes', () => {
    const b = new BatchBuilder<Msg>();
    expect(b.empty).toBe(true);
    b.other({ t: 'open', id: 1 });
    b.record(1, 20, false, Buffer.from('0102', 'hex'));
    b.record(2, 40.5, true, Buffer.from('ff', 'hex'));
    b.other({ t: 'close', id: 1 });
    b.record(2, 60, false, Buffer.alloc(0));
    b.other({ t: 'keyframe', id: 2 });
    expect(b.empty).toBe(false);
    const { batch, transfer } = b.take();
    expect(transfer).toHaveLength(2);
    expect(walk(batch)).toEqual(['open1', 'r1@20:0102', 'r2@40.5K:ff', 'close1', 'r2@60:', 'keyframe2']);
    expect(b.empty).toBe(true);
    expect(walk(b.take().batch)).toEqual([]);
  });

  it('grows past its first arrays (10,000 records, 1 MiB) and survives a transfer to another thread', async () => {
    const b = new BatchBuilder<Msg>();
    const expected: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const bytes = Buffer.alloc(i % 200, i & 0xff);
      b.record(i % 7, i * 20, i % 50 === 0, bytes);
      expected.push(`r${i % 7}@${i * 20}${i % 50 === 0 ? 'K' : ''}:${bytes.toString('hex')}`);
    }
    b.other({ t: 'closed', id: 3 });
    expected.push('closed3');
    const { batch, transfer } = b.take();
    const { port1, port2 } = new MessageChannel();
    const received = new Promise<PackedBatch<Msg>>((resolve) => port2.once('message', resolve));
    port1.postMessage(batch, transfer);
    const copy = await received;
    port1.close();
    expect(batch.data.byteLength).toBe(0); // moved, not cloned
    expect(walk(copy)).toEqual(expected);
  });
});
