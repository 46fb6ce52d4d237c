import { describe, it, expect } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { buildRows, dashboardRouter, RateTracker, type DashboardCall } from '../../../src/dashboard/index.js';
import { checkBasic } from '../../../src/rest/index.js';
import type { CallObject, CallStats } from '../../../src/call/index.js';
import { silentLogger } from '../../../src/shared/logger.js';

function track(bytes: number, packets: number, lost: number) {
  return { packets, bytes, lost, lastPacketAt: null, jitter: 1.26, discarded: 0, unexpectedPayloadType: 0, jitterBufferLost: 0, pliSent: 1, firSent: 0, nackSent: 2 };
}

function fakeCall(id: string, counters: { a: [number, number, number]; v: [number, number, number]; out: number }): DashboardCall {
  return {
    toJSON: () => ({
      callId: id, callee: '10001', status: 'ESTABLISHED', info: null, rtmpStreamStatus: 'RTMP_STREAM_ACTIVE',
      audioCodec: 'PCMA/8000', videoCodec: 'H264/90000', toStream: `s_${id}`, rtmpUrl: 'rtmp://h/live?token=secret',
      rtmpStream: 'k', createdAt: 1,
    }) as unknown as CallObject,
    stats: (): CallStats => ({
      rtp: { audio: track(...counters.a), video: track(...counters.v) },
      rtmp: [{ endpoint: 'rtmp://h:1935/live', status: 'RTMP_STREAM_ACTIVE', queuedBytes: 0, reconnects: 0, bytesOut: counters.out, tagsWritten: 0, videoDropped: 0, audioDropped: 0 }],
      transcoders: ['audio'],
    }) as unknown as CallStats,
  };
}

describe('RateTracker', () => {
  it('answers zeros on the first sample, per-second rates after, repeats them within the minimum interval', () => {
    const t = new RateTracker(900);
    expect(t.rates('c', new Map([['x', 100]]), 0).get('x')).toBe(0);
    expect(t.rates('c', new Map([['x', 600]]), 500).get('x')).toBe(0); // too soon: previous rates
    expect(t.rates('c', new Map([['x', 1100]]), 2000).get('x')).toBe(500);
    expect(t.rates('c', new Map([['x', 1200]]), 2100).get('x')).toBe(500);
    expect(t.rates('c', new Map([['x', 50]]), 3000).get('x')).toBe(0); // counter reset
  });

  it('forgets ended calls', () => {
    const t = new RateTracker(0);
    t.rates('a', new Map([['x', 10]]), 0);
    t.retain(new Set());
    expect(t.rates('a', new Map([['x', 1010]]), 1000).get('x')).toBe(0);
  });
});

describe('buildRows', () => {
  it('derives kbit/s and loss % from counter deltas and hides the RTMP URL query', () => {
    const t = new RateTracker(0);
    buildRows([fakeCall('c1', { a: [0, 0, 0], v: [0, 0, 0], out: 0 })], t, 0);
    const [row] = buildRows([fakeCall('c1', { a: [8000, 50, 0], v: [125_000, 90, 10], out: 250_000 })], t, 2000);
    expect(row).toMatchObject({
      callId: 'c1', status: 'ESTABLISHED', rtmpStreamStatus: 'RTMP_STREAM_ACTIVE', audioCodec: 'PCMA/8000', videoCodec: 'H264/90000',
      rtmpUrl: 'rtmp://h/live', kbpsIn: 532, transcoders: 1,
      audio: { kbps: 32, lossPct: 0, lost: 0, jitterMs: 1.3 },
      video: { kbps: 500, lossPct: 10, lost: 10, nackSent: 2, pliSent: 1 },
      rtmp: [{ endpoint: 'rtmp://h:1935/live', status: 'RTMP_STREAM_ACTIVE', kbps: 1000 }],
    });
  });
});

describe('checkBasic', () => {
  const users = [{ name: 'admin', password: 'p:w' }];
  const b64 = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
  it('accepts a configured user (password may hold a colon) and refuses the rest', () => {
    expect(checkBasic(b64('admin:p:w'), users)).toBe(true);
    expect(checkBasic(b64('admin:p'), users)).toBe(false);
    expect(checkBasic(b64('admin'), users)).toBe(false);
    expect(checkBasic(undefined, users)).toBe(false);
    expect(checkBasic('Bearer x', users)).toBe(false);
  });
});

describe('dashboardRouter', () => {
  async function serve(users: { name: string; password: string }[]) {
    const calls = [fakeCall('c1', { a: [1, 1, 0], v: [1, 1, 0], out: 1 })];
    const r = dashboardRouter({ calls: { registry: { all: () => calls } }, users, nodeId: 'n1', player: { flv: null, hls: true }, intervalMs: 50, log: silentLogger() });
    const app = express().use(r);
    const server = http.createServer(app);
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { base, close: () => new Promise<void>((res) => { r.close(); server.closeAllConnections(); server.close(() => res()); }) };
  }

  it('serves the page, the JSON snapshot, SSE snapshots and the players', async () => {
    const s = await serve([]);
    try {
      const page = await fetch(`${s.base}/dashboard/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      expect(await page.text()).toContain('/dashboard/vendor/mpegts.js');
      const snap = await (await fetch(`${s.base}/dashboard/api/calls`)).json();
      expect(snap).toMatchObject({ nodeId: 'n1', player: { flv: null, hls: true }, calls: [{ callId: 'c1' }] });
      for (const f of ['mpegts.js', 'hls.js']) {
        const v = await fetch(`${s.base}/dashboard/vendor/${f}`);
        expect(v.status).toBe(200);
        expect((await v.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
      }
      expect((await fetch(`${s.base}/dashboard/vendor/other.js`)).status).toBe(404);
      const ac = new AbortController();
      const ev = await fetch(`${s.base}/dashboard/events`, { signal: ac.signal });
      expect(ev.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const reader = ev.body!.getReader();
      let text = '';
      while ((text.match(/event: snapshot/g) ?? []).length < 2) text += new TextDecoder().decode((await reader.read()).value);
      ac.abort();
      expect(text).toContain('"callId":"c1"');
    } finally {
      await s.close();
    }
  });

  it('has rates in the very first snapshot a viewer asks for (the counters are sampled whoever watches)', async () => {
    let bytes = 0;
    const growing: DashboardCall = {
      ...fakeCall('g1', { a: [0, 0, 0], v: [0, 0, 0], out: 0 }),
      stats: () => {
        bytes += 10_000;
        return fakeCall('g1', { a: [bytes / 10, bytes / 1000, 0], v: [bytes, bytes / 1000, 0], out: bytes }).stats();
      },
    };
    const router = dashboardRouter({
      calls: { registry: { all: () => [growing] } }, users: [], nodeId: 'n', player: { flv: null, hls: false }, intervalMs: 25, log: silentLogger(),
    });
    const app = express().use(router);
    const server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      // Past the tracker's minimum interval (900 ms): samples were taken meanwhile, nobody watching.
      await new Promise((r) => setTimeout(r, 1000));
      const snap = await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/dashboard/api/calls`)).json() as { calls: { kbpsIn: number; rtmp: { kbps: number }[] }[] };
      expect(snap.calls[0]?.kbpsIn).toBeGreaterThan(0);
      expect(snap.calls[0]?.rtmp[0]?.kbps).toBeGreaterThan(0);
    } finally {
      router.close();
      await new Promise((r) => server.close(r));
    }
  });

  it('asks for Basic credentials when users are configured', async () => {
    const s = await serve([{ name: 'u', password: 'p' }]);
    try {
      const res = await fetch(`${s.base}/dashboard/`);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Basic realm="gateway"');
      const ok = await fetch(`${s.base}/dashboard/api/calls`, { headers: { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` } });
      expect(ok.status).toBe(200);
    } finally {
      await s.close();
    }
  });
});
