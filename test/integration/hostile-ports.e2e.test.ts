/**
 * Strangers on every listening port while a call streams: a SIPp UAS far end
 * sends H.264 + PCMA, the gateway publishes to nginx-rtmp, and meanwhile the
 * REST/HTTP port, the dashboard and the SIP TCP and TLS listeners get
 * garbage, truncated, oversized, out-of-range and never-finished input in
 * bounded loops. Afterwards the process is up, the call is still
 * ESTABLISHED / RTMP_STREAM_ACTIVE, nginx's stream still decodes, a new call
 * goes live, and the heap did not grow without bound.
 * (UDP SIP input is test/integration/sip-hostile.e2e.test.ts.)
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { SippFarEnds, type SippProcess } from '../helpers/sipp.js';
import { startNginxRtmp, type NginxRtmp } from '../helpers/nginx.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { makeTestPki, type TestPki } from '../helpers/tls.js';
import { freeTcpPort } from '../helpers/ports.js';
import { probeStream } from '../helpers/ffprobe.js';
import { waitUntil } from '../helpers/wait.js';
import { assertNoChildProcesses } from '../helpers/processes.js';
import { holdOpen, rawExchange, type HeldSocket } from '../helpers/raw-socket.js';

let gw: TestGateway;
let nginx: NginxRtmp;
let hooks: WebhookReceiver;
let pki: TestPki;
let tlsPort: number;
const fars = new SippFarEnds();
const held: HeldSocket[] = [];

const CALL = 'hostile-ports-0001';
const KEY = 'hostile_key';

beforeAll(async () => {
  pki = await makeTestPki();
  tlsPort = await freeTcpPort();
  nginx = await startNginxRtmp();
  hooks = await startWebhookReceiver();
  gw = await startTestGateway({
    webhook: { apps: { callApp: hooks.baseUrl } },
    sip: { tls: { port: tlsPort, cert: pki.serverCert, key: pki.serverKey } },
  });
});

afterAll(async () => {
  for (const h of held.splice(0)) await h.close();
  await gw?.close();
  await fars.closeAll();
  await nginx?.close();
  await hooks?.close();
  pki?.remove();
  await assertNoChildProcesses();
});

const MiB = 1 << 20;

function hostHeader(): string {
  return `Host: 127.0.0.1:${gw.gw.restPort}\r\n`;
}

/** The status code of an HTTP/1.1 answer, or null when the server sent none. */
function statusOf(text: string): number | null {
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(text);
  return m ? Number(m[1]) : null;
}

async function http(chunks: (string | Buffer)[], opts: { end?: boolean; waitMs?: number } = {}) {
  return rawExchange({ port: gw.gw.restPort, chunks, ...opts });
}

async function liveCall(callId: string, toStream: string, rtmpStream: string): Promise<SippProcess> {
  const far = await fars.uas('uas-answer.xml', { vars: { video_loops: '30' } });
  const start = await gw.rest('/call/startup', {
    callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, toStream, rtmpUrl: nginx.rtmpUrl, rtmpStream,
  });
  expect(start.status).toBe(200);
  await hooks.waitFor((e) => e.body?.callId === callId && e.body.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE', 20_000);
  return far;
}

async function expectLive(callId: string): Promise<void> {
  const found = await gw.rest('/call/find', { callId });
  expect(found.status).toBe(200);
  expect(found.body[0]).toMatchObject({ status: 'ESTABLISHED', rtmpStreamStatus: 'RTMP_STREAM_ACTIVE' });
}

function sipOptions(n: number, transport: 'TCP' | 'TLS', extra = '', body = ''): string {
  return `OPTIONS sip:gw@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/${transport} 127.0.0.1:5999;branch=z9hG4bK-hp-${n}\r\n`
    + `From: <sip:x@127.0.0.1>;tag=hp${n}\r\nTo: <sip:gw@127.0.0.1>\r\nCall-ID: hostile-ports-opt-${n}\r\nCSeq: 1 OPTIONS\r\n`
    + `Max-Forwards: 70\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

describe('hostile clients on every port during a live call', () => {
  let rssBefore = 0;

  it('a call streams to nginx-rtmp before the attacks', async () => {
    await liveCall(CALL, 'hostile_ports', KEY);
    await expectLive(CALL);
    rssBefore = process.memoryUsage().rss;
  });

  it('REST port: garbage, truncated, oversized, lying and never-finished HTTP', async () => {
    // Not HTTP at all: the parser answers 400 and hangs up.
    for (const junk of [Buffer.from([0, 1, 2, 3, 0xff, 0xfe, 13, 10, 13, 10]), '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u01fc\u0003\u0003',
      'GET\r\n\r\n', `FOO /healthz HTTP/1.1\r\n${hostHeader()}\r\n`, 'GET /healthz HTTP/9.9\r\n\r\n']) {
      const r = await http([junk]);
      expect(r.closedByPeer, JSON.stringify(junk)).toBe(true);
      const status = statusOf(r.text);
      if (status !== null) expect(status, JSON.stringify(junk)).toBe(400);
    }
    // Truncated: the head or the body cut short, then the client half-closes. No answer is owed, no call is placed.
    for (const cut of [
      'GET /healthz HTTP/1.1\r\nHo',
      `POST /rest-api/call/startup HTTP/1.1\r\n${hostHeader()}Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{"callId":"trunc-1","callee":"sip:x@127.0.0.1"`,
      `POST /rest-api/call/startup HTTP/1.1\r\n${hostHeader()}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nff\r\n{"callId":"trunc-2"`,
    ]) {
      const r = await http([cut], { end: true });
      expect(r.closedByPeer).toBe(true);
      expect([null, 400]).toContain(statusOf(r.text));
    }
    // A header block far over Node's 16 KiB limit: 431.
    const big = await http([`GET /healthz HTTP/1.1\r\n${hostHeader()}X-Big: ${'a'.repeat(MiB)}\r\n\r\n`]);
    expect(statusOf(big.text)).toBe(431);
    const many = await http([`GET /metrics HTTP/1.1\r\n${hostHeader()}${'X-A: b\r\n'.repeat(5000)}\r\n`]);
    expect(statusOf(many.text)).toBe(431);
    // Content-Length out of range, invalid, doubled, or beside chunked.
    const post = (headers: string, body = '{}'): string => `POST /rest-api/call/startup HTTP/1.1\r\n${hostHeader()}Content-Type: application/json\r\n${headers}\r\n${body}`;
    // Announced over the limit: 413 at once and the connection closed, not held while the body trickles in.
    for (const h of ['Content-Length: 99999999999999\r\n', 'Content-Length: 1048576\r\n']) {
      const r = await http([post(h)]);
      expect(statusOf(r.text), h).toBe(413);
      expect(r.closedByPeer, h).toBe(true);
    }
    for (const h of ['Content-Length: abc\r\n', 'Content-Length: -5\r\n', 'Content-Length: 2\r\nContent-Length: 3\r\n',
      'Content-Length: 2\r\nTransfer-Encoding: chunked\r\n', 'Content-Length: 99999999999999999999999\r\n']) {
      expect(statusOf((await http([post(h)])).text), h).toBe(400);
    }
    // Bodies that parse badly or too deeply: answered 4xx, nothing started.
    expect((await gw.rest('/call/startup', '{"callId": "x", "callee": ', { raw: true })).status).toBe(400);
    expect((await gw.rest('/call/startup', '\u0000\u0001\u0002', { raw: true })).status).toBe(400);
    expect((await gw.rest('/call/startup', '{"callId":"\\ud800\\udfff\\u0000"', { raw: true })).status).toBe(400);
    const depth = 25_000;
    for (const nested of [
      `${'['.repeat(depth)}${']'.repeat(depth)}`,
      `{"callId":"deep-0","callee":"sip:x@127.0.0.1","custom":{"a":${'{"a":'.repeat(40)}1${'}'.repeat(40)}}}`,
      `{"callId":"deep-1","callee":"sip:x@127.0.0.1","custom":{"a":${'{"a":'.repeat(depth / 5)}1${'}'.repeat(depth / 5)}}}`,
      `{"callId":"deep-2","callee":"sip:x@127.0.0.1","custom":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`,
    ]) {
      const r = await gw.rest('/call/startup', nested, { raw: true });
      expect(r.status, nested.slice(0, 60)).toBe(400);
    }
    for (const id of ['trunc-1', 'trunc-2', 'deep-0', 'deep-1', 'deep-2']) expect((await gw.rest('/call/find', { callId: id })).status).toBe(404);
    // Invalid percent-encoding in paths: a 4xx, never a 500 (in a query it is ignored).
    expect(statusOf((await http([`GET /metrics?x=%zz&%%=1 HTTP/1.1\r\n${hostHeader()}Connection: close\r\n\r\n`])).text)).toBe(200);
    for (const p of ['/hls/%E0%A4%A/index.m3u8', '/hls/%zz/index.m3u8', '/hls/..%2f..%2fetc%2fpasswd/index.m3u8',
      '/healthz/%', '/dashboard/vendor/%E0%A4%A', '/dashboard/%c0%af', '/rest-api/call/%zz']) {
      const r = await http([`GET ${p} HTTP/1.1\r\n${hostHeader()}Connection: close\r\n\r\n`]);
      const status = statusOf(r.text);
      expect(status, p).not.toBeNull();
      expect(status, p).toBeGreaterThanOrEqual(400);
      expect(status, p).toBeLessThan(500);
    }
    // Slowloris: 60 connections each holding half a request head, never finished.
    for (let i = 0; i < 60; i++) {
      held.push(await holdOpen({ port: gw.gw.restPort, chunks: [`GET /healthz HTTP/1.1\r\n${hostHeader()}X-Slow-${i}: `] }));
    }
    // Meanwhile the port serves everyone else.
    const health = await fetch(`${gw.baseUrl}/healthz`);
    expect(await health.json()).toEqual({ status: 'ok', cluster: null });
    const metrics = await fetch(`${gw.baseUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('gateway_');
    await expectLive(CALL);
    for (const h of held.splice(0)) await h.close();
  });

  it('dashboard: abandoned and concurrent event streams, vendor path traversal', async () => {
    // 200 event streams opened and dropped at once, in batches of 20, some before the answer, some after.
    for (let round = 0; round < 10; round++) {
      await Promise.all(Array.from({ length: 20 }, (_, i) => http(
        [`GET /dashboard/events HTTP/1.1\r\n${hostHeader()}\r\n`], { waitMs: i % 2 === 0 ? 1 : 150 },
      )));
    }
    // The cap: 100 streams at once (default), the 101st is refused with a JSON 503.
    const streams: HeldSocket[] = [];
    try {
      for (let i = 0; i < 100; i++) {
        const h = await holdOpen({ port: gw.gw.restPort, chunks: [`GET /dashboard/events HTTP/1.1\r\n${hostHeader()}\r\n`] });
        streams.push(h);
      }
      // Every one of them gets its stream (the abandoned ones above gave their slots back).
      await waitUntil(() => streams.every((h) => h.received.includes('event: snapshot')), 10_000, 50, '100 event streams');
      for (const h of streams) expect(statusOf(h.received)).toBe(200);
      expect(streams[0]?.received).toContain(`"callId":"${CALL}"`);
      const refused = await fetch(`${gw.baseUrl}/dashboard/events`);
      expect(refused.status).toBe(503);
      expect(await refused.json()).toMatchObject({ status: 503, path: '/dashboard/events' });
    } finally {
      for (const h of streams) await h.close();
    }
    // Slots come back once viewers leave.
    await waitUntil(async () => {
      const r = await http([`GET /dashboard/events HTTP/1.1\r\n${hostHeader()}\r\n`], { waitMs: 300 });
      return statusOf(r.text) === 200;
    }, 5000, 50, 'an event stream after the others closed');
    // Path traversal and lookup-table names on the vendor route: 404, nothing of the file system.
    for (const f of ['..%2f..%2fetc%2fpasswd', '..%2F..%2F..%2Fpackage.json', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '..%5c..%5cwin.ini',
      '__proto__', 'constructor', 'mpegts.js%00', '....%2f%2f....%2f%2fetc%2fpasswd']) {
      const r = await fetch(`${gw.baseUrl}/dashboard/vendor/${f}`);
      expect(r.status, f).toBe(404);
      expect(await r.text()).not.toContain('root:');
    }
    for (const p of ['/dashboard/vendor/../../../../etc/passwd', '/dashboard/vendor/..%252f..%252fetc%252fpasswd']) {
      const r = await http([`GET ${p} HTTP/1.1\r\n${hostHeader()}Connection: close\r\n\r\n`]);
      expect(statusOf(r.text), p).toBe(404);
      expect(r.text).not.toContain('root:');
    }
    await expectLive(CALL);
  });

  for (const transport of ['TCP', 'TLS'] as const) {
    it(`SIP ${transport} listener: garbage, endless head, oversized Content-Length, half-open connections`, async () => {
      const port = transport === 'TCP' ? gw.gw.sipPort : tlsPort;
      const sip = (chunks: (string | Buffer)[], waitMs = 5000) => rawExchange({ port, tls: transport === 'TLS', chunks, waitMs });
      // A well-formed request is answered on the connection it came on.
      const ok = await sip([sipOptions(1, transport)], 1500);
      expect(ok.text).toMatch(/^SIP\/2\.0 200 /);
      // Garbage that cannot be framed (a head without Content-Length, or past the head limit): the connection is closed.
      const noise = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + (i >> 7)) & 0xff));
      for (const junk of [Buffer.concat([noise(2048), Buffer.from('\r\n\r\n')]), noise(40_000), 'HELLO\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n']) {
        const r = await sip([junk]);
        expect(r.closedByPeer, String(junk).slice(0, 20)).toBe(true);
      }
      // An endless head without CRLFCRLF, past the 16 KiB head limit: closed.
      const endless = await sip([`OPTIONS sip:gw@127.0.0.1 SIP/2.0\r\nX-Endless: ${'a'.repeat(20_000)}`, 'b'.repeat(20_000)]);
      expect(endless.closedByPeer).toBe(true);
      // A Content-Length beyond the 256 KiB body cap: 400, then closed (RFC 3261 §18.3).
      const huge = await sip([sipOptions(2, transport, '', '').replace('Content-Length: 0', 'Content-Length: 10000000')]);
      expect(huge.text).toMatch(/^SIP\/2\.0 400 /);
      expect(huge.closedByPeer).toBe(true);
      const negative = await sip([sipOptions(3, transport).replace('Content-Length: 0', 'Content-Length: -1')]);
      expect(negative.closedByPeer).toBe(true);
      // 100 half-open connections, each holding half a message.
      const half: HeldSocket[] = [];
      try {
        for (let i = 0; i < 100; i++) half.push(await holdOpen({ port, tls: transport === 'TLS', chunks: [sipOptions(100 + i, transport).slice(0, 120)] }));
        // Meanwhile a new connection is served.
        const again = await sip([sipOptions(4, transport)], 1500);
        expect(again.text).toMatch(/^SIP\/2\.0 200 /);
      } finally {
        for (const h of half) await h.close();
      }
      await expectLive(CALL);
    });
  }

  it('TLS listener: a ClientHello of garbage and plain SIP over the TLS port are dropped', async () => {
    for (const junk of [Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, ...Array.from({ length: 300 }, (_, i) => i & 0xff)]), sipOptions(9, 'TLS')]) {
      const r = await rawExchange({ port: tlsPort, chunks: [junk], waitMs: 5000 });
      expect(r.closedByPeer).toBe(true);
      expect(r.text).not.toMatch(/SIP\/2\.0/);
    }
    // And TLS still works after it.
    expect((await rawExchange({ port: tlsPort, tls: true, chunks: [sipOptions(10, 'TLS')], waitMs: 1500 })).text).toMatch(/^SIP\/2\.0 200 /);
  });

  it('afterwards: the call still streams decodable H.264 + AAC, a new call goes live, memory is bounded', async () => {
    await expectLive(CALL);
    const probe = await probeStream(`${nginx.rtmpUrl}/${KEY}`, { seconds: 4 });
    expect(probe.errors).toEqual([]);
    expect(probe.video).toMatchObject({ codec: 'h264', width: 320, height: 240 });
    expect(probe.video?.frames).toBeGreaterThan(20);
    expect(probe.audio).toMatchObject({ codec: 'aac' });
    expect(await nginx.publishers()).toContain(KEY);

    await liveCall('hostile-ports-0002', 'hostile_ports_2', 'hostile_key_2');
    await expectLive('hostile-ports-0002');
    await expectLive(CALL);
    // The gateway runs in this process: its RSS growth over every attack above stays bounded.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(150 * MiB);

    for (const id of [CALL, 'hostile-ports-0002']) {
      expect((await gw.rest('/call/terminate', { callId: id })).status).toBe(200);
      await hooks.waitFor((e) => e.body?.callId === id && e.body.status === 'FINISH', 10_000);
    }
  });
});
