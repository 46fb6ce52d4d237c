/**
 * Strangers at the embedded viewer server's ports during a live call, on
 * 127.0.0.1 (SIPp far end, nginx-rtmp as the call's own target, ffprobe as
 * judge): garbage before and after the RTMP handshake, a command with a
 * truncated AMF0 number, chunk headers announcing 16 MiB messages on hundreds
 * of chunk streams, half-open connections, garbage HTTP on the HTTP-FLV port.
 * The call's stream and the gateway's memory are untouched; the embedded
 * server — its own process — keeps serving, and when it is killed or passes
 * its memory cap it is back within seconds with the call's embedded target
 * reconnected (LOST → ACTIVE on that target only).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { SippFarEnds } from '../helpers/sipp.js';
import { startNginxRtmp, type NginxRtmp } from '../helpers/nginx.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { probeStream } from '../helpers/ffprobe.js';
import { waitUntil } from '../helpers/wait.js';
import { assertNoChildProcesses } from '../helpers/processes.js';
import { chunkStreamFlood, connect, filledMessages, handshake, truncatedConnect, type HostileConn } from '../helpers/hostile-rtmp.js';

let gw: TestGateway;
let nginx: NginxRtmp;
let hooks: WebhookReceiver;
const fars = new SippFarEnds();
const conns: HostileConn[] = [];
const CALL = 'embedded-hostile-1';
const STREAM = 'hostile_call';
const MEMORY_CAP_MB = 220;

const rssMb = (pid: number): number => Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const embeddedPort = (): number => Number(new URL(gw.embeddedRtmpUrl).port);
const httpPort = (): number => Number(new URL(gw.embeddedHttpUrl).port);

/** The call's target on the embedded server. */
function embeddedTarget(): { status: string } | undefined {
  return gw.gw.calls.registry.get(CALL).outputs.stats().find((s) => s.endpoint === gw.embeddedRtmpUrl);
}

async function streamsDecode(): Promise<void> {
  // 5 s of a 25 fps stream: a reader joins at the next keyframe (up to one GOP late), so > 30 frames leaves room for a slow start.
  const [ext, emb] = await Promise.all([
    probeStream(`${nginx.rtmpUrl}/${STREAM}`, { seconds: 5 }),
    probeStream(`${gw.embeddedRtmpUrl}/${STREAM}`, { seconds: 5 }),
  ]);
  for (const p of [ext, emb]) {
    expect(p.errors).toEqual([]);
    expect(p.video?.frames).toBeGreaterThan(30);
    expect(p.audio?.codec).toBe('aac');
  }
}

beforeAll(async () => {
  nginx = await startNginxRtmp();
  hooks = await startWebhookReceiver();
  gw = await startTestGateway({
    webhook: { apps: { callApp: hooks.baseUrl } },
    rtmp: {
      reconnect: { initialDelayMs: 200, maxDelayMs: 1000 },
      embedded: { maxMemoryMb: MEMORY_CAP_MB, restartBackoffMs: { minMs: 100, maxMs: 1000 } },
    },
  });
  const far = await fars.uas('uas-answer.xml', { vars: { video_loops: '8' } });
  expect((await gw.rest('/call/startup', { callId: CALL, callee: `sip:service@127.0.0.1:${far.sipPort}`, toStream: STREAM, rtmpUrl: nginx.rtmpUrl, rtmpStream: STREAM })).status).toBe(200);
  await hooks.waitFor((e) => e.body?.callId === CALL && e.body.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE', 20_000);
  await waitUntil(() => embeddedTarget()?.status === 'RTMP_STREAM_ACTIVE', 10_000, 50, 'embedded target ACTIVE');
});

afterAll(async () => {
  for (const c of conns) c.sock.destroy();
  await fars.closeAll();
  await gw?.close();
  await nginx?.close();
  await hooks?.close();
  await assertNoChildProcesses();
});

describe('the embedded server against strangers, during a live call', () => {
  it('garbage, a truncated AMF0 number, a chunk-stream flood and half-open connections end those connections only', async () => {
    const pid = gw.gw.embedded?.pid as number;
    expect(pid).toBeGreaterThan(0);
    const gatewayRss = process.memoryUsage().rss;
    // Garbage instead of a handshake, and after one.
    const g1 = await connect(embeddedPort());
    await g1.send(Buffer.alloc(4000, 0xee));
    const g2 = await handshake(embeddedPort());
    await g2.send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(50)));
    // node-media-server's defects: a truncated AMF0 number (threw out of its parser: the whole
    // process went down), and 16 MiB zero-filled per announced chunk stream.
    const amf = await handshake(embeddedPort());
    await amf.send(truncatedConnect());
    await waitUntil(() => amf.sock.destroyed || amf.sock.readableEnded, 5000, 20, 'the truncated command ends its connection');
    const flood = await handshake(embeddedPort());
    await flood.send(chunkStreamFlood(300, 0xffffff));
    await waitUntil(() => flood.sock.destroyed || flood.sock.readableEnded, 5000, 20, 'the flood ends its connection');
    // Half-open connections that never send a byte, on both ports; garbage HTTP.
    for (let i = 0; i < 20; i++) conns.push(await connect(embeddedPort()), await connect(httpPort()));
    const h = await connect(httpPort());
    await h.send(Buffer.from('\x00\x01garbage\r\n\r\nGET /live/../../etc/passwd.flv HTTP/1.1\r\nHost: a\r\n\r\n'));
    conns.push(g1, g2, amf, flood, h);

    // Same process, still serving, memory bounded; the call's two streams decode.
    expect(gw.gw.embedded?.pid).toBe(pid);
    expect(gw.gw.embedded?.restarts).toBe(0);
    expect(rssMb(pid)).toBeLessThan(MEMORY_CAP_MB);
    await streamsDecode();
    expect(gw.gw.calls.registry.get(CALL).status).toBe('ESTABLISHED');
    expect(process.memoryUsage().rss - gatewayRss).toBeLessThan(100 * 1024 * 1024);
  });

  it('killed (SIGKILL) or over its memory cap, it is restarted; the call\'s embedded target goes LOST → ACTIVE, nothing else changes', async () => {
    const before = hooks.events.filter((e) => e.body?.callId === CALL).length;
    // The attack's bytes, made once before measuring: the gateway's own growth is what is bounded, not the test's buffers.
    const attack = filledMessages([3, 4, 5, 6], 7_900_000);
    const gatewayRss = process.memoryUsage().rss;
    const seen: string[] = [embeddedTarget()?.status ?? 'none'];
    const watch = setInterval(() => {
      const s = embeddedTarget()?.status;
      if (s !== undefined && s !== seen.at(-1)) seen.push(s);
    }, 20);
    try {
      const pid = gw.gw.embedded?.pid as number;
      process.kill(pid, 'SIGKILL');
      await waitUntil(() => gw.gw.embedded?.restarts === 1 && gw.gw.embedded.pid !== undefined, 10_000, 50, 'restarted after SIGKILL');
      expect(gw.gw.embedded?.pid).not.toBe(pid);
      await waitUntil(() => seen.at(-1) === 'RTMP_STREAM_ACTIVE' && seen.includes('RTMP_CONNECTION_LOST'), 15_000, 50, 'embedded target back');

      // Past the memory cap: connections each holding as much as the per-connection guard allows.
      const pid2 = gw.gw.embedded?.pid as number;
      for (let i = 0; i < 12 && gw.gw.embedded?.pid === pid2; i++) {
        const c = await handshake(embeddedPort()).catch(() => null);
        if (c === null) break; // the process is already going down
        conns.push(c);
        await c.send(attack);
      }
      await waitUntil(() => (gw.gw.embedded?.restarts ?? 0) >= 2 && gw.gw.embedded?.pid !== undefined, 15_000, 50, 'restarted after its memory cap');
      expect(gw.gw.embedded?.pid).not.toBe(pid2);
      expect(gw.logs().some((l) => l.reason === `over its memory cap (${String(l.reason).match(/\d+/)?.[0]} MiB > ${MEMORY_CAP_MB} MiB)`)).toBe(true);
      await waitUntil(() => embeddedTarget()?.status === 'RTMP_STREAM_ACTIVE', 15_000, 50, 'embedded target back again');
    } finally {
      clearInterval(watch);
    }
    expect(seen[0]).toBe('RTMP_STREAM_ACTIVE');
    expect(seen).toContain('RTMP_CONNECTION_LOST');
    // The call's own status follows its request's target (nginx): no event at all meanwhile.
    expect(hooks.events.filter((e) => e.body?.callId === CALL).length).toBe(before);
    expect(gw.gw.calls.registry.get(CALL).status).toBe('ESTABLISHED');
    // The memory went to the child and died with it; the gateway's own stayed put.
    expect(process.memoryUsage().rss - gatewayRss).toBeLessThan(100 * 1024 * 1024);
    await streamsDecode();
  });
});

describe('a viewer that never reads', () => {
  it('a half-open HTTP-FLV viewer does not hold back the call', async () => {
    const v = net.connect(httpPort(), '127.0.0.1');
    v.on('error', () => undefined);
    await new Promise<void>((r) => v.once('connect', () => r()));
    v.write(`GET /live/${STREAM}.flv HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    v.pause(); // never reads: its socket buffers fill
    await new Promise((r) => setTimeout(r, 2000));
    const p = await probeStream(`${nginx.rtmpUrl}/${STREAM}`, { seconds: 2 });
    expect(p.errors).toEqual([]);
    expect(p.video?.frames).toBeGreaterThan(20);
    v.destroy();
  });
});
