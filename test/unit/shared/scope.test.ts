import { describe, it, expect, vi, afterEach } from 'vitest';
import { Scope } from '../../../src/shared/scope.js';

describe('Scope', () => {
  afterEach(() => vi.useRealTimers());

  it('releases once, last registered first, waiting for async releases', async () => {
    const order: string[] = [];
    const s = new Scope();
    s.defer(() => { order.push('a'); });
    s.add({ close: async () => { await Promise.resolve(); order.push('b'); } });
    s.defer(() => { order.push('c'); });
    const p1 = s.close();
    const p2 = s.close();
    expect(p2).toBe(p1);
    await p1;
    expect(order).toEqual(['c', 'b', 'a']);
    await s.close();
    expect(order).toEqual(['c', 'b', 'a']);
  });

  it('a failing release is reported and the others still run', async () => {
    const errors: unknown[] = [];
    const ran: number[] = [];
    const s = new Scope((e) => errors.push(e));
    s.defer(() => { ran.push(1); });
    s.defer(() => { throw new Error('sync'); });
    s.add({ close: () => Promise.reject(new Error('async')) });
    s.defer(() => { ran.push(4); });
    await expect(s.close()).resolves.toBeUndefined();
    expect(ran).toEqual([4, 1]);
    expect(errors.map((e) => (e as Error).message)).toEqual(['async', 'sync']);
  });

  it('owns its timers: cleared on close, none started after', async () => {
    vi.useFakeTimers();
    const s = new Scope();
    let ticks = 0;
    let fired = 0;
    s.setInterval(() => ticks++, 100);
    s.setTimeout(() => fired++, 250);
    vi.advanceTimersByTime(1000);
    expect([ticks, fired]).toEqual([10, 1]);
    s.setTimeout(() => fired++, 500);
    await s.close();
    vi.advanceTimersByTime(1000);
    expect([ticks, fired]).toEqual([10, 1]);
    expect(s.setInterval(() => ticks++, 10)).toBeNull();
    vi.advanceTimersByTime(100);
    expect(ticks).toBe(10);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('what is added after close is released at once (the allocate race)', async () => {
    const s = new Scope();
    await s.close();
    let closed = false;
    const socket = s.add({ close: () => { closed = true; } });
    await Promise.resolve();
    expect(closed).toBe(true);
    expect(socket).toBeDefined();
  });

  it('a child scope closes with its parent, or alone before it', async () => {
    const order: string[] = [];
    const parent = new Scope();
    parent.defer(() => { order.push('parent'); });
    const child = parent.child();
    child.defer(() => { order.push('child'); });
    await parent.close();
    expect(order).toEqual(['child', 'parent']);

    const p2 = new Scope();
    const c2 = p2.child();
    let n = 0;
    c2.defer(() => { n++; });
    await c2.close();
    await p2.close();
    expect(n).toBe(1);
  });
});
