import { describe, it, expect } from 'vitest';
import { CallRegistry, type RegisteredCall } from '../../../src/call/registry.js';
import { ConflictError, NotFoundError, UnavailableError } from '../../../src/shared/errors.js';
import type { CallObject } from '../../../src/call/types.js';

function call(callId: string, toStream: string, rtmpUrl: string | null = null, rtmpStream: string | null = null): RegisteredCall {
  return { callId, toStream, rtmpUrl, rtmpStream, toJSON: () => ({ callId, toStream, rtmpUrl, rtmpStream, status: 'TRYING', callee: 'c' } as unknown as CallObject) };
}

describe('CallRegistry', () => {
  it('refuses a duplicate callId, toStream or rtmpUrl+rtmpStream with 409', () => {
    const r = new CallRegistry(10);
    r.add(call('a', 's1', 'rtmp://h/live', 'k1'));
    expect(() => r.add(call('a', 's2'))).toThrow(ConflictError);
    expect(() => r.add(call('b', 's1'))).toThrow(ConflictError);
    expect(() => r.add(call('b', 's2', 'rtmp://h/live', 'k1'))).toThrow(ConflictError);
    expect(() => r.add(call('b', 's2', 'rtmp://h/live', 'k2'))).not.toThrow();
    expect(new ConflictError('x').httpStatus).toBe(409);
  });
  it('frees the names when a call is removed', () => {
    const r = new CallRegistry(10);
    const c = call('a', 's1', 'rtmp://h/live', 'k1');
    r.add(c);
    r.remove(c);
    expect(() => r.add(call('a', 's1', 'rtmp://h/live', 'k1'))).not.toThrow();
  });
  it('answers 503 at the call limit and after closeForNew', () => {
    const r = new CallRegistry(1);
    r.add(call('a', 's1'));
    expect(() => r.add(call('b', 's2'))).toThrow(UnavailableError);
    const r2 = new CallRegistry(5);
    r2.closeForNew();
    expect(() => r2.add(call('b', 's2'))).toThrow(UnavailableError);
  });
  it('finds by every given field and 404s on unknown ids', () => {
    const r = new CallRegistry(10);
    r.add(call('a', 's1'));
    r.add(call('b', 's2'));
    expect(r.find({ toStream: 's2' }).map((c) => c.callId)).toEqual(['b']);
    expect(r.find({ toStream: 's2', callId: 'a' })).toEqual([]);
    expect(r.find({}).length).toBe(2);
    expect(() => r.get('zzz')).toThrow(NotFoundError);
  });
});
