/**
 * The dashboard against clocks and clients that misbehave: a wall clock that
 * steps back, event streams opened and abandoned or never read, more streams
 * than the cap, and file names aimed at the vendor route's lookup table.
 */
import { describe, it, expect, afterEach, vi } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { dashboardRouter, RateTracker, type DashboardCall } from '../../../src/dashboard/index.js';
import type { CallObject, CallStats } from '../../../src/call/index.js';
import { silentLogger } from '../../../src/shared/logger.js';

function track(bytes: number, packets: number) {
  return { packets, bytes, lost: 0, lastPacketAt: null, jitter: 0, discarded: 0, unexpectedPayloadType: 0, jitterBufferLost: 0, pliSent: 0, firSent: 0, nackSent: 0 };
}

/** A live call whose counters grow by 10 kB per look, like a call streaming. */
function growingCall(id: string): DashboardCall {
  let bytes = 0;
  return {
    toJSON: () => ({
      callId: id, callee: '10001', status: 'ESTABLISHED', info: null, rtmpStreamStatus: 'RTMP_STREAM_ACTIVE', audioCodec: 'PCMA/8000',
      videoCodec: 'H264/90000', toStream: `s_${id}`, rtmpUrl: null, rtmpStream: null, createdAt: 1,
    }) as unknown as CallObject,
    stats: (): CallStats => {
      bytes += 10_000;
      return {
        rtp: { audio: track(bytes / 10, bytes / 1000), video: track(bytes, bytes / 1000) },
        rtmp: [{ endpoint: 'rtmp://h:1935/live', status: 'RTMP_STREAM_ACTIVE', queuedBytes: 0, reconnects: 0, bytesOut: bytes, tagsWritten: 0, videoDropped: 0, audioDropped: 0 }],
        transcoders: [],
      } as unknown as CallStats;
    },
  };
}

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of closers.splice(0).reverse()) await c();
});

async function serve(calls: DashboardCall[], over: { intervalMs?: number; maxEventStreams?: number } = {}) {
  const router = dashboardRouter({
    calls: { registry: { all: () => calls } }, users: [], nodeId: 'n', player: { flv: null, hls: false }, log: silentLogger(), ...over,
  });
  const server = http.createServer(express().use(router));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  closers.push(() => new Promise<void>((r) => {
    router.close();
    server.closeAllConnections();
    server.close(() => r());
  }));
  return { server, port, base: `http://127.0.0.1:${port}` };
}

/** Opens an event stream and reads its first snapshot; `abort` ends it from the client side. */
async function openStream(base: string): Promise<{ status: number; abort: () => void; body: string }> {
  const ac = new AbortController();
  const res = await fetch(`${base}/dashboard/events`, { signal: ac.signal });
  if (res.status !== 200) return { status: res.status, abort: () => ac.abort(), body: await res.text() };
  const reader = res.body!.getReader();
  let text = '';
  while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
  return { status: 200, abort: () => ac.abort(), body: text };
}

describe('RateTracker with a clock that steps back', () => {
  it('starts a new interval instead of holding the rates until the clock catches up', () => {
    const t = new RateTracker(900);
    expect(t.rates('c', new Map([['x', 100]]), 10_000).get('x')).toBe(0);
    t.rates('c', new Map([['x', 600]]), 5_000); // stepped back 5 s
    expect(t.rates('c', new Map([['x', 1600]]), 6_000).get('x')).toBe(1000);
  });
});

describe('dashboardRouter guards', () => {
  it('keeps measuring bitrates when the wall clock steps back an hour after the first sample', async () => {
    const real = Date.now.bind(Date);
    const t0 = real();
    // From 100 ms on, the wall clock reads an hour earlier (an NTP step on a host whose clock ran ahead).
    vi.spyOn(Date, 'now').mockImplementation(() => real() - (real() - t0 > 100 ? 3_600_000 : 0));
    const s = await serve([growingCall('g1')], { intervalMs: 25 });
    await new Promise((r) => setTimeout(r, 1300));
    const snap = await (await fetch(`${s.base}/dashboard/api/calls`)).json() as { calls: { kbpsIn: number; video: { kbps: number }; rtmp: { kbps: number }[] }[] };
    expect(snap.calls[0]?.kbpsIn).toBeGreaterThan(0);
    expect(snap.calls[0]?.video.kbps).toBeGreaterThan(0);
    expect(snap.calls[0]?.rtmp[0]?.kbps).toBeGreaterThan(0);
  });

  it('caps concurrent event streams (503 with a JSON error) and frees a slot when a viewer leaves', async () => {
    const s = await serve([growingCall('c1')], { intervalMs: 50, maxEventStreams: 3 });
    const open = [await openStream(s.base), await openStream(s.base), await openStream(s.base)];
    expect(open.map((o) => o.status)).toEqual([200, 200, 200]);
    expect(open[0]?.body).toContain('"callId":"c1"');
    const refused = await fetch(`${s.base}/dashboard/events`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(await refused.json()).toMatchObject({ error: 'Service Unavailable', status: 503, path: '/dashboard/events' });
    // The JSON snapshot is not an event stream: still served.
    expect((await fetch(`${s.base}/dashboard/api/calls`)).status).toBe(200);
    open[0]?.abort();
    const again = await vi.waitUntil(async () => {
      const o = await openStream(s.base);
      if (o.status === 200) return o;
      return undefined;
    }, { timeout: 5000, interval: 50 });
    again.abort();
    for (const o of open) o.abort();
  });

  it('frees the slots of streams opened and abandoned many times', async () => {
    const s = await serve([growingCall('c1')], { intervalMs: 20, maxEventStreams: 5 });
    for (let round = 0; round < 10; round++) {
      const batch = await Promise.all(Array.from({ length: 5 }, () => openStream(s.base)));
      expect(batch.map((b) => b.status)).toEqual([200, 200, 200, 200, 200]);
      for (const b of batch) b.abort();
      // Raw sockets too, closed before and after the request head.
      await new Promise<void>((resolve) => {
        const sock = net.connect(s.port, '127.0.0.1', () => {
          sock.write('GET /dashboard/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
          sock.once('data', () => sock.destroy());
        });
        sock.on('close', () => resolve());
        sock.on('error', () => undefined);
      });
      // Wait until every slot is back before the next round.
      await vi.waitUntil(async () => {
        const o = await openStream(s.base);
        o.abort();
        return o.status === 200;
      }, { timeout: 5000, interval: 20 });
      await new Promise((r) => setTimeout(r, 30));
    }
  });

  it('does not buffer snapshots for a viewer that never reads', async () => {
    // 300 calls: each snapshot is a few hundred kB, sent every 5 ms.
    const calls = Array.from({ length: 300 }, (_, i) => growingCall(`c${i}`));
    const s = await serve(calls, { intervalMs: 5 });
    const responses: http.ServerResponse[] = [];
    s.server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (req.url === '/dashboard/events') responses.push(res);
    });
    const sock = net.connect(s.port, '127.0.0.1');
    closers.push(() => { sock.destroy(); });
    sock.on('error', () => undefined);
    sock.write('GET /dashboard/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    sock.pause(); // never read: the kernel buffers fill, then everything else queues in the server
    await vi.waitUntil(() => responses.length === 1, { timeout: 5000 });
    await new Promise((r) => setTimeout(r, 1500));
    const res = responses[0] as http.ServerResponse;
    expect(res.writableEnded).toBe(false);
    expect(res.writableLength).toBeLessThan(2 << 20);
  });

  it.each([
    '__proto__', 'constructor', 'toString', 'hasOwnProperty', '..%2f..%2fetc%2fpasswd', '..%2F..%2F..%2Fpackage.json',
    '%2e%2e%2fpackage.json', '..%5c..%5cetc%5cpasswd', 'mpegts.js%00.map', '%2fetc%2fpasswd',
  ])('answers 404 for vendor file %s', async (name) => {
    const s = await serve([]);
    const res = await fetch(`${s.base}/dashboard/vendor/${name}`);
    expect(res.status).toBe(404);
    const body = await res.json() as { error: string; status: number };
    expect(body).toMatchObject({ error: 'Not Found', status: 404 });
    expect(JSON.stringify(body)).not.toContain('root:');
  });
});
