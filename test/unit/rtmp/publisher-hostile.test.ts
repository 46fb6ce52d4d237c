/**
 * Our RTMP client against hostile servers on 127.0.0.1 (scripted: no real
 * server misbehaves like this on demand): a wrong handshake version, a huge
 * Set Chunk Size, a huge message, too many chunk streams, a malformed AMF0
 * answer, silence. Each fails that target with a precise reason — never an
 * exception — and another target of the same fan-out keeps getting media.
 */
import { describe, it, expect, afterEach } from 'vitest';
import net from 'node:net';
import { RtmpPublisher, SERVER_LIMITS } from '../../../src/rtmp/publisher.js';
import { FlvFanout } from '../../../src/rtmp/fanout.js';
import { MSG } from '../../../src/rtmp/chunk.js';
import { avcFrame, avcSequenceHeader, onMetaData } from '../../../src/rtmp/flv.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { FakeRtmpServer, accepting, type Script } from './fake-server.js';

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

/** Scripts answering `connect` with something hostile. */
const onConnect = (bytes: () => Buffer): Script => (cmd, c) => {
  if (cmd.name === 'connect') c.socket.write(bytes());
};

function failure(p: RtmpPublisher): Promise<string> {
  return new Promise((resolve) => p.on('status', (s, reason) => {
    if (s === 'RTMP_CONNECTION_FAILED') resolve(reason ?? '');
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
    ['silence after connect', () => undefined, /timeout after 1500 ms/],
  ])('%s: that target fails with the reason', async (_name, script, reason) => {
    expect(await against(script)).toMatch(reason);
  });

  it('a wrong handshake version, or garbage and a close instead of one: that target fails', async () => {
    for (const reply of [Buffer.concat([Buffer.of(6), Buffer.alloc(3072, 7)]), Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')]) {
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
      expect(await failed).toMatch(/RTMP handshake: server version (6|72)/);
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
      expect(pg.status).toBe('RTMP_STREAM_ACTIVE');
    } finally {
      clearInterval(t);
    }
  });
});
