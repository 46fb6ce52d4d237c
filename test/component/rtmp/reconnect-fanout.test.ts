/**
 * Reconnect policy and fan-out against a scripted RTMP server on 127.0.0.1:
 * backoff, LOST → ACTIVE with the GOP replayed on a keyframe and timestamps
 * that continue, refusal and give-up as FAILED, the GOP cache bound.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { RtmpPublisher, type PublisherStatus } from '../../../src/rtmp/publisher.js';
import { PublisherSupervisor, backoffDelay } from '../../../src/rtmp/reconnect.js';
import { FlvFanout } from '../../../src/pipeline/fanout.js';
import { MSG } from '../../../src/rtmp/chunk.js';
import { avcSequenceHeader, avcFrame, aacFrame, aacSequenceHeader, onMetaData, type FlvTag } from '../../../src/pipeline/flv.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { FakeRtmpServer, accepting, refusing } from '../../helpers/fake-rtmp-server.js';

const log = silentLogger();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const servers: FakeRtmpServer[] = [];
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  for (const s of servers.splice(0)) await s.stop();
});

async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} not met`);
    await sleep(5);
  }
}

const SPS = Buffer.from([0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01]);
const PPS = Buffer.from([0x68, 0xce, 0x3c, 0x80]);
const headers = {
  metadata: onMetaData({ width: 320, height: 240, videocodecid: 7 }),
  video: avcSequenceHeader(SPS, PPS),
  audio: aacSequenceHeader(Buffer.from([0x11, 0x88])),
};
/** Frame i of a 25 fps stream with a keyframe every `gop` frames, plus audio every 20 ms. */
function tagsAt(i: number, gop = 25): FlvTag[] {
  const ts = i * 40;
  const key = i % gop === 0;
  return [
    avcFrame([Buffer.from([key ? 0x65 : 0x41, i & 0xff, 1, 2, 3])], key, 0, ts),
    aacFrame(Buffer.from([0x21, i & 0xff]), ts),
    aacFrame(Buffer.from([0x21, i & 0xff]), ts + 20),
  ];
}

/** Drives a fan-out at 25 fps (virtual time), returns a stop function. */
function feed(f: FlvFanout, gop = 25): { stop: () => void; frame: () => number } {
  let i = 0;
  const t = setInterval(() => {
    for (const tag of tagsAt(i++, gop)) f.write(tag);
  }, 10);
  return { stop: () => clearInterval(t), frame: () => i };
}

function statuses(s: PublisherSupervisor): PublisherStatus[] {
  const out: PublisherStatus[] = [];
  s.on('status', (st) => out.push(st));
  return out;
}

describe('backoffDelay', () => {
  it('doubles from the initial delay and is capped', () => {
    const p = { initialDelayMs: 1000, maxDelayMs: 30_000 };
    expect([0, 1, 2, 3, 4, 5, 6, 50].map((a) => backoffDelay(a, p))).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });
});

describe('PublisherSupervisor + FlvFanout', () => {
  it('a dropped connection → LOST, retries while the server is down, ACTIVE again on a keyframe with headers and continuing timestamps', async () => {
    const srv = new FakeRtmpServer(accepting);
    servers.push(srv);
    await srv.listen();
    const fan = new FlvFanout();
    fan.setHeaders(headers);
    const p = new RtmpPublisher({ url: `rtmp://127.0.0.1:${srv.port}/live`, streamName: 'k', log });
    const sup = new PublisherSupervisor(p, { initialDelayMs: 50, maxDelayMs: 200, giveUpAfterMs: 10_000 }, log);
    closers.push(() => sup.close());
    const seen = statuses(sup);
    fan.add(p);
    const src = feed(fan);
    closers.push(async () => src.stop());
    sup.start();
    await until(() => sup.status === 'active', 3000, 'ACTIVE');
    await sleep(1200); // past the refusal window
    await srv.stop();
    await until(() => sup.status === 'lost', 3000, 'LOST');
    await sleep(500); // several refused connects (ECONNREFUSED) while down
    expect(sup.status).toBe('lost');
    const before = srv.media(0);
    const lastTs = Math.max(...before.map((m) => m.timestamp));
    await srv.listen();
    await until(() => sup.status === 'active', 3000, 'ACTIVE again');
    await until(() => srv.media(1).filter((m) => m.type === MSG.video).length > 10, 3000, 'media after reconnect');
    expect(seen).toEqual(['active', 'lost', 'active']);
    expect(sup.reconnects).toBe(1);

    const msgs = srv.conns[1]?.messages ?? [];
    const firstMedia = msgs.findIndex((m) => m.type === MSG.audio || m.type === MSG.video);
    // Metadata and both sequence headers first, then a keyframe (the cached GOP).
    expect(msgs.slice(firstMedia, firstMedia + 2).map((m) => [m.type, m.payload[1]])).toEqual([[MSG.video, 0], [MSG.audio, 0]]);
    const media = msgs.slice(firstMedia + 2).filter((m) => m.type === MSG.audio || m.type === MSG.video);
    expect(media[0]?.type).toBe(MSG.video);
    expect((media[0]?.payload[0] as number) >> 4).toBe(1); // keyframe
    // The call's timestamps continue: the replayed GOP starts at its keyframe, at most a GOP before the drop.
    expect(media[0]?.timestamp).toBeGreaterThan(lastTs - 1000 - 40);
    const vts = media.filter((m) => m.type === MSG.video).map((m) => m.timestamp);
    for (let i = 1; i < vts.length; i++) expect(vts[i] as number).toBeGreaterThan(vts[i - 1] as number);
  });

  it('a header removed from the set (AAC → G.711 copied as is) is not sent to a target that reconnects or joins later', async () => {
    const srv = new FakeRtmpServer(accepting);
    servers.push(srv);
    await srv.listen();
    const fan = new FlvFanout();
    fan.setHeaders(headers);
    const sinkHeaders: (keyof typeof headers)[][] = [];
    fan.addSink({ setHeaders: (h) => sinkHeaders.push(Object.keys(h) as (keyof typeof headers)[]), write: () => undefined });
    const p = new RtmpPublisher({ url: `rtmp://127.0.0.1:${srv.port}/live`, streamName: 'switch', log });
    const sup = new PublisherSupervisor(p, { initialDelayMs: 20, maxDelayMs: 50, giveUpAfterMs: 10_000 }, log);
    closers.push(() => sup.close());
    fan.add(p);
    const src = feed(fan);
    closers.push(async () => src.stop());
    sup.start();
    await until(() => sup.status === 'active', 3000, 'ACTIVE');
    // The audio becomes G.711 in FLV: no AAC sequence header any more.
    fan.setHeaders({ metadata: headers.metadata, video: headers.video });
    expect(sinkHeaders.at(-1)).toEqual(['metadata', 'video']);
    await sleep(1200); // past the refusal window
    srv.dropConnections();
    await until(() => sup.status === 'active' && srv.media(1).filter((m) => m.type === MSG.video).length > 3, 5000, 'reconnected');
    const seqHeaders = (srv.conns[1]?.messages ?? []).filter((m) => (m.type === MSG.audio || m.type === MSG.video) && m.payload[1] === 0);
    expect(seqHeaders.map((m) => m.type)).toEqual([MSG.video]);
  });

  it('a new target gets the cached GOP at once, starting on its keyframe', async () => {
    const srv = new FakeRtmpServer(accepting);
    servers.push(srv);
    await srv.listen();
    const fan = new FlvFanout();
    fan.setHeaders(headers);
    for (let i = 0; i < 40; i++) for (const t of tagsAt(i)) fan.write(t); // key at 0 and 25
    expect(fan.cachedTags).toBe(15 * 3);
    const p = new RtmpPublisher({ url: `rtmp://127.0.0.1:${srv.port}/live`, streamName: 'late', log });
    closers.push(() => p.close());
    const needed: string[] = [];
    fan.on('keyframeNeeded', (r) => needed.push(r));
    fan.add(p);
    p.start();
    await until(() => srv.media(0).filter((m) => m.type === MSG.video).length >= 16, 3000, 'GOP replay');
    const video = srv.media(0).filter((m) => m.type === MSG.video);
    expect(video[1]?.timestamp).toBe(25 * 40); // [0] is the sequence header
    expect(video.length).toBe(16);
    expect(needed).toEqual([]);
    expect(p.status).toBe('active');
  });

  it('with nothing cached, a starting target asks for a keyframe; a GOP over the bound empties the cache', async () => {
    const fan = new FlvFanout({ maxCacheBytes: 200 });
    fan.setHeaders(headers);
    const gops: number[] = [];
    fan.on('gop', (ms) => gops.push(ms));
    for (let i = 0; i < 60; i++) for (const t of tagsAt(i, 50)) fan.write(t);
    expect(fan.cachedTags).toBe(0); // 10 frames past the key at 50 exceed 200 bytes
    expect(gops).toEqual([2000]);
    const srv = new FakeRtmpServer(accepting);
    servers.push(srv);
    await srv.listen();
    const p = new RtmpPublisher({ url: `rtmp://127.0.0.1:${srv.port}/live`, streamName: 'x', log });
    closers.push(() => p.close());
    const needed: string[] = [];
    fan.on('keyframeNeeded', (r) => needed.push(r));
    fan.add(p);
    p.start();
    await until(() => needed.length === 1, 3000, 'keyframeNeeded');
  });

  it('a stalled target drops whole video frames with a bounded queue while another target gets every frame', async () => {
    const srvFast = new FakeRtmpServer(accepting);
    const srvSlow = new FakeRtmpServer(accepting);
    servers.push(srvFast, srvSlow);
    await srvFast.listen();
    await srvSlow.listen();
    const fan = new FlvFanout();
    fan.setHeaders(headers);
    const max = 256 * 1024;
    const fast = new RtmpPublisher({ url: `rtmp://127.0.0.1:${srvFast.port}/live`, streamName: 'f', log, maxQueueBytes: max });
    const slow = new RtmpPublisher({ url: `rtmp://127.0.0.1:${srvSlow.port}/live`, streamName: 's', log, maxQueueBytes: max });
    closers.push(() => fast.close(), () => slow.close());
    fan.add(fast);
    fan.add(slow);
    fast.start();
    slow.start();
    await until(() => fast.phase === 'publishing' && slow.phase === 'publishing', 3000, 'publishing');
    (srvSlow.conns[0] as { socket: { pause(): void } }).socket.pause(); // its server stops reading
    // 8 MB of 64 kB frames (a keyframe every 25), past the ~4 MB loopback kernel buffers.
    let maxQueued = 0;
    for (let i = 0; i < 125; i++) {
      const key = i % 25 === 0;
      fan.write(avcFrame([Buffer.alloc(64 * 1024, key ? 0x65 : 0x41)], key, 0, i * 40));
      fan.write(aacFrame(Buffer.from([0x21, i & 0xff]), i * 40));
      maxQueued = Math.max(maxQueued, slow.queuedBytes);
      await sleep(1);
    }
    expect(slow.stats.videoDropped).toBeGreaterThan(0);
    expect(maxQueued).toBeLessThanOrEqual(max + 64 * 1024 + 1024);
    expect(slow.stats.audioDropped).toBe(0); // audio goes last (past 4× the bound)
    expect(fast.stats.videoDropped).toBe(0);
    await until(() => srvFast.media(0).filter((m) => m.type === MSG.video).length === 126, 5000, 'every frame on the fast target');
  });

  it('a refusal while reconnecting is final: FAILED, no further attempts', async () => {
    const srv = new FakeRtmpServer(accepting);
    servers.push(srv);
    await srv.listen();
    const fan = new FlvFanout();
    fan.setHeaders(headers);
    const p = new RtmpPublisher({ url: `rtmp://127.0.0.1:${srv.port}/live`, streamName: 'k', log });
    const sup = new PublisherSupervisor(p, { initialDelayMs: 50, maxDelayMs: 100, giveUpAfterMs: 10_000 }, log);
    closers.push(() => sup.close());
    const seen = statuses(sup);
    fan.add(p);
    const src = feed(fan);
    closers.push(async () => src.stop());
    sup.start();
    await until(() => sup.status === 'active', 3000, 'ACTIVE');
    await sleep(1100);
    srv.script = refusing;
    for (const c of srv.conns) c.socket.destroy();
    await until(() => sup.status === 'failed', 3000, 'FAILED');
    const conns = srv.conns.length;
    await sleep(400);
    expect(srv.conns.length).toBe(conns);
    expect(seen).toEqual(['active', 'lost', 'failed']);
  });

  it('gives up after giveUpAfterMs (FAILED), and a first connection that fails is FAILED at once', async () => {
    const srv = new FakeRtmpServer(accepting);
    servers.push(srv);
    await srv.listen();
    const fan = new FlvFanout();
    fan.setHeaders(headers);
    const p = new RtmpPublisher({ url: `rtmp://127.0.0.1:${srv.port}/live`, streamName: 'k', log });
    const sup = new PublisherSupervisor(p, { initialDelayMs: 50, maxDelayMs: 100, giveUpAfterMs: 600 }, log);
    closers.push(() => sup.close());
    fan.add(p);
    const src = feed(fan);
    closers.push(async () => src.stop());
    sup.start();
    await until(() => sup.status === 'active', 3000, 'ACTIVE');
    await sleep(1100);
    const t0 = Date.now();
    await srv.stop();
    await until(() => sup.status === 'failed', 3000, 'FAILED');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(550);
    expect(Date.now() - t0).toBeLessThan(1500);

    const q = new RtmpPublisher({ url: `rtmp://127.0.0.1:${srv.port}/live`, streamName: 'k', log });
    const first = new PublisherSupervisor(q, { initialDelayMs: 50, maxDelayMs: 100, giveUpAfterMs: 10_000 }, log);
    closers.push(() => first.close());
    const seen = statuses(first);
    first.start();
    await until(() => first.status === 'failed', 3000, 'FAILED at once');
    expect(seen).toEqual(['failed']);
  });
});
