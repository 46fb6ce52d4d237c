/**
 * Our RTMP client against hostile servers on 127.0.0.1 (scripted: no real
 * server misbehaves like this on demand): a wrong handshake version, a huge
 * Set Chunk Size, a huge message, too many chunk streams, a malformed AMF0
 * answer, silence. Each fails that target with a precise reason — never an
 * exception — and another target of the same fan-out keeps getting media.
 * While publishing, a broken cap is a dropped connection: LOST, then reconnect.
 */
import { describe, it, expect, afterEach } from 'vitest';
import net from 'node:net';
import { RtmpPublisher, SERVER_LIMITS, type PublisherStatus } from '../../../src/rtmp/publisher.js';
import { FlvFanout } from '../../../src/pipeline/fanout.js';
import { PublisherSupervisor } from '../../../src/rtmp/reconnect.js';
import { MSG } from '../../../src/rtmp/chunk.js';
import { encodeAmf0 } from '../../../src/pipeline/amf0.js';
import { avcFrame, avcSequenceHeader, onMetaData } from '../../../src/pipeline/flv.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { FakeRtmpServer, accepting, type Script } from '../../helpers/fake-rtmp-server.js';

const log = silentLogger();
const servers: { stop(): Promise<void> }[] = [];
const publishers: RtmpPublisher[] = [];

afterEach(async () => {
  for (const p of publishers.splice(0)) await p.close();
  for (const s of servers.splice(0)) await s.stop();
});

/** A raw chunk: fmt 0 basic header for csid < 64, 11-byte message header, then `payload`. */
function rawChunk(csid: number, type: number, length: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h[0] = csid;
  h.writeUIntBE(length, 4, 3);
  h[7] = type;
  return Buffer.concat([h, payload]);
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** onStatus(0, null, {level: 'status', code: ...}) with the object's end and half its last string missing. */
function onStatusCut(): Buffer {
  const whole = encodeAmf0('onStatus', 0, null, { level: 'status', code: 'NetStream.Publish.Start' });
  return whole.subarray(0, whole.length - 10);
}

/** Scripts answering `connect` with something hostile. */
const onConnect = (bytes: () => Buffer): Script => (cmd, c) => {
  if (cmd.name === 'connect') c.socket.write(bytes());
};

function failure(p: RtmpPublisher): Promise<string> {
  return new Promise((resolve) => p.on('status', (s, reason) => {
    if (s === 'failed') resolve(reason ?? '');
  }));
}

async function against(script: Script): Promise<string> {
  const srv = new FakeRtmpServer(script);
  servers.push(srv);
  await srv.listen();
  const p = new RtmpPublisher({ url: `rtmp://127.0.0.1:${srv.port}/live`, streamName: 'x', log, connectTimeoutMs: 1500 });
  publishers.push(p);
  const failed = failure(p);
  p.start();
  return failed;
}

describe('RtmpPublisher against a hostile server', () => {
  it.each([
    ['a Set Chunk Size past the cap', onConnect(() => rawChunk(2, MSG.setChunkSize, 4, u32(0x7fffffff))), /bad chunk size 2147483647 \(at most 1048576\)/],
    ['a message past the cap', onConnect(() => rawChunk(3, MSG.commandAmf0, 0xffffff, Buffer.alloc(64))), /message of 16777215 bytes exceeds the limit of 1048576/],
    ['too many chunk streams', onConnect(() => Buffer.concat(Array.from({ length: 20 }, (_, i) => rawChunk(3 + i, MSG.commandAmf0, 1000, Buffer.alloc(128))))), /more than 16 chunk streams/],
    ['an _result whose AMF0 number is cut short', onConnect(() => {
      const name = Buffer.from('_result');
      const payload = Buffer.concat([Buffer.from([0x02, 0, name.length]), name, Buffer.from([0x00, 0x3f, 0xf0])]);
      return rawChunk(3, MSG.commandAmf0, payload.length, payload);
    }), /protocol error/],
    ['an onStatus answering publish with an object cut short', (cmd, c) => {
      if (cmd.name !== 'publish') accepting(cmd, c);
      else c.send(5, MSG.commandAmf0, 1, onStatusCut());
    }, /protocol error: AMF0: truncated/],
    ['silence after connect', () => undefined, /timeout after 1500 ms/],
  ])('%s: that target fails with the reason', async (_name, script, reason) => {
    expect(await against(script)).toMatch(reason);
  });

  it('a wrong handshake version, or garbage and a close instead of one: that target fails', async () => {
    const replies: [Buffer, RegExp][] = [
      [Buffer.concat([Buffer.of(6), Buffer.alloc(3072, 7)]), /RTMP handshake: server version 6/],
      [Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'), /RTMP handshake: server version 72/],
      // The right version, then S1 cut short and a close: no S2 ever comes.
      [Buffer.concat([Buffer.of(3), Buffer.alloc(700, 1)]), /connection closed by server/],
    ];
    for (const [reply, reason] of replies) {
      const srv = net.createServer((s) => {
        s.on('error', () => undefined);
        s.once('data', () => s.end(reply));
      });
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
      servers.push({ stop: () => new Promise((r) => srv.close(() => r())) });
      const p = new RtmpPublisher({ url: `rtmp://127.0.0.1:${(srv.address() as net.AddressInfo).port}/live`, streamName: 'x', log, connectTimeoutMs: 1500 });
      publishers.push(p);
      const failed = failure(p);
      p.start();
      expect(await failed).toMatch(reason);
      expect(p.status).toBe('failed');
    }
  });

  it('the caps are what a server may send a publisher; a fan-out\'s other target keeps getting media', async () => {
    expect(SERVER_LIMITS).toEqual({ maxMessageSize: 1024 * 1024, maxChunkStreams: 16, maxChunkSize: 1024 * 1024 });
    const good = new FakeRtmpServer(accepting);
    const bad = new FakeRtmpServer(onConnect(() => rawChunk(3, MSG.commandAmf0, 0xffffff, Buffer.alloc(64))));
    servers.push(good, bad);
    await good.listen();
    await bad.listen();
    const fan = new FlvFanout();
    fan.setHeaders({ metadata: onMetaData({ videocodecid: 7 }), video: avcSequenceHeader(Buffer.from([0x67, 0x42, 0xc0, 0x1f]), Buffer.from([0x68, 0xce])) });
    const pg = new RtmpPublisher({ url: `rtmp://127.0.0.1:${good.port}/live`, streamName: 'g', log });
    const pb = new RtmpPublisher({ url: `rtmp://127.0.0.1:${bad.port}/live`, streamName: 'b', log });
    publishers.push(pg, pb);
    const badFailed = failure(pb);
    fan.add(pg);
    fan.add(pb);
    pg.start();
    pb.start();
    let i = 0;
    const t = setInterval(() => fan.write(avcFrame([Buffer.from([i % 25 === 0 ? 0x65 : 0x41, 1, 2])], i % 25 === 0, 0, 40 * i++)), 5);
    try {
      await badFailed;
      const until = Date.now() + 3000;
      while (good.media(0).filter((m) => m.type === MSG.video).length < 30 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(good.media(0).filter((m) => m.type === MSG.video).length).toBeGreaterThanOrEqual(30);
      expect(pg.status).toBe('active');
    } finally {
      clearInterval(t);
    }
  });

  it('a cap broken while publishing: that target goes LOST (protocol error) and reconnects; the other target never stops', async () => {
    const good = new FakeRtmpServer(accepting);
    const flaky = new FakeRtmpServer(accepting);
    servers.push(good, flaky);
    await good.listen();
    await flaky.listen();
    const fan = new FlvFanout();
    fan.setHeaders({ metadata: onMetaData({ videocodecid: 7 }), video: avcSequenceHeader(Buffer.from([0x67, 0x42, 0xc0, 0x1f]), Buffer.from([0x68, 0xce])) });
    const pg = new RtmpPublisher({ url: `rtmp://127.0.0.1:${good.port}/live`, streamName: 'g', log });
    const pf = new RtmpPublisher({ url: `rtmp://127.0.0.1:${flaky.port}/live`, streamName: 'f', log });
    const sup = new PublisherSupervisor(pf, { initialDelayMs: 20, maxDelayMs: 100, giveUpAfterMs: 10_000 }, log);
    publishers.push(pg);
    servers.unshift({ stop: () => sup.close() });
    const seen: [PublisherStatus, string | undefined][] = [];
    sup.on('status', (st, reason) => seen.push([st, reason]));
    fan.add(pg);
    fan.add(pf);
    pg.start();
    sup.start();
    let i = 0;
    const t = setInterval(() => fan.write(avcFrame([Buffer.from([i % 10 === 0 ? 0x65 : 0x41, 1, 2])], i % 10 === 0, 0, 40 * i++)), 5);
    const videoAt = (s: FakeRtmpServer, c: number): number => s.media(c).filter((m) => m.type === MSG.video).length;
    const waitFor = async (cond: () => boolean, what: string): Promise<void> => {
      const until = Date.now() + 5000;
      while (!cond()) {
        if (Date.now() > until) throw new Error(`${what} not met ${JSON.stringify(seen)} ${flaky.conns.length} ${pf.phase}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    try {
      await waitFor(() => sup.status === 'active' && videoAt(flaky, 0) > 5, 'flaky target ACTIVE');
      await new Promise((r) => setTimeout(r, 1100)); // past the publisher's refusal window
      const goodBefore = videoAt(good, 0);
      flaky.conns[0]?.socket.write(rawChunk(2, MSG.setChunkSize, 4, u32(SERVER_LIMITS.maxChunkSize + 1)));
      await waitFor(() => flaky.conns.length === 2 && sup.status === 'active' && videoAt(flaky, 1) > 5, 'flaky target back');
      expect(seen.map(([st]) => st)).toEqual(['active', 'lost', 'active']);
      expect(seen[1]?.[1]).toMatch(/protocol error: RTMP: bad chunk size 1048577 \(at most 1048576\)/);
      // The same fan-out's other target kept its one connection and kept getting video.
      expect(good.conns).toHaveLength(1);
      expect(pg.status).toBe('active');
      expect(videoAt(good, 0)).toBeGreaterThan(goodBefore);
    } finally {
      clearInterval(t);
    }
  });
});
