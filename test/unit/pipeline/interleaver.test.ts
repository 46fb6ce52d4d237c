import { describe, it, expect } from 'vitest';
import { Interleaver } from '../../../src/pipeline/interleaver.js';
import type { FlvTag } from '../../../src/pipeline/flv.js';

const tag = (type: 'audio' | 'video', timestamp: number): FlvTag => ({ type, timestamp, data: Buffer.alloc(1), key: true });

describe('Interleaver', () => {
  it('merges late audio with earlier video into timestamp order', () => {
    const out: string[] = [];
    const il = new Interleaver((t) => out.push(`${t.type[0]}${t.timestamp}`), { audio: true, video: true });
    il.push(tag('video', 0));
    il.push(tag('video', 40));
    il.push(tag('video', 80));
    il.push(tag('audio', 0));
    il.push(tag('audio', 21));
    il.push(tag('audio', 43));
    il.push(tag('audio', 64));
    il.push(tag('audio', 85));
    expect(out).toEqual(['v0', 'a0', 'a21', 'v40', 'a43', 'a64', 'v80']);
    il.flush();
    expect(out.slice(-1)).toEqual(['a85']);
  });
  it('stops waiting for a silent track after maxHoldMs', () => {
    const out: number[] = [];
    const il = new Interleaver((t) => out.push(t.timestamp), { audio: true, video: true }, 100);
    for (let ts = 0; ts <= 200; ts += 40) il.push(tag('video', ts));
    expect(out).toEqual([0, 40, 80]);
  });
  it('does not wait for a track the call does not have', () => {
    const out: number[] = [];
    const il = new Interleaver((t) => out.push(t.timestamp), { audio: false, video: true });
    il.push(tag('video', 0));
    expect(out).toEqual([0]);
  });
});
