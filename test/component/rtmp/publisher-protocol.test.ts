/**
 * RtmpPublisher against a scripted server on 127.0.0.1: control messages,
 * error answers, timeouts and the keyframe gate, observed on the wire.
 */
import { describe, it, expect, afterEach } from 'vitest';
import net from 'node:net';
import { RtmpPublisher, type PublisherStatus } from '../../../src/rtmp/publisher.js';
import { ChunkDecoder, ChunkEncoder, MSG, type RtmpMessage } from '../../../src/rtmp/chunk.js';
import { encodeAmf0 } from '../../../src/pipeline/amf0.js';
import { parseCommand, type RtmpCommand } from '../../../src/rtmp/messages.js';
import { avcSequenceHeader, avcFrame, aacFrame } from '../../../src/pipeline/flv.js';
import { silentLogger } from '../../../src/shared/logger.js';

const log = silentLogger();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What the scripted server does when a command arrives; return false to stay silent. */
type Script = (cmd: RtmpCommand, srv: FakeConn) => void;

interface FakeConn {
  socket: net.Socket;
  send(csid: number, type: number, streamId: number, payload: Buffer): void;
  messages: RtmpMessage[];
}

const open: { server: net.Server; conns: net.Socket[] }[] = [];

async function fakeServer(script: Script, opts: { handshake?: boolean } = {}): Promise<{ port: number; conns: FakeConn[] }> {
  const conns: FakeConn[] = [];
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    const enc = new ChunkEncoder();
    const dec = new ChunkDecoder();
    const conn: FakeConn = {
      socket,
      messages: [],
      send: (csid, type, streamId, payload) => socket.write(enc.encode(csid, type, streamId, 0, payload)),
    };
    conns.push(conn);
    let hs = Buffer.alloc(0);
    let done = false;
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      if (!done) {
        if (opts.handshake === false) return;
        hs = Buffer.concat([hs, d]);
        if (hs.length >= 1537 && hs.length - d.length < 1537) {
          // S0 + S1 + S2 (S2 echoes C1)
          socket.write(Buffer.concat([Buffer.of(3), Buffer.alloc(1536, 1), hs.subarray(1, 1537)]));
        }
        if (hs.length < 1537 + 1536) return;
        done = true;
        d = hs.subarray(1537 + 1536);
        if (d.length === 0) return;
      }
      for (const m of dec.push(d)) {
        conn.messages.push(m);
        if (m.type === MSG.commandAmf0) script(parseCommand(m.payload), conn);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  open.push({ server, conns: sockets });
  return { port: (server.address() as net.AddressInfo).port, conns };
}

afterEach(async () => {
  for (const o of open.splice(0)) {
    for (const s of o.conns) s.destroy();
    await new Promise((r) => o.server.close(r));
  }
});

const result = (tid: number, info: unknown): Buffer => encodeAmf0('_result', tid, null, info as null);
const status = (code: string, level = 'status'): Buffer => encodeAmf0('onStatus', 0, null, { level, code, description: code });

/** A server that accepts everything, like a well-behaved RTMP server. */
const accepting: Script = (cmd, c) => {
  if (cmd.name === 'connect') c.send(3, MSG.commandAmf0, 0, result(cmd.transactionId, { level: 'status', code: 'NetConnection.Connect.Success' }));
  if (cmd.name === 'createStream') c.send(3, MSG.commandAmf0, 0, result(cmd.transactionId, 1));
  if (cmd.name === 'publish') c.send(5, MSG.commandAmf0, 1, status('NetStream.Publish.Start'));
};

function statusOf(p: RtmpPublisher, want: PublisherStatus, ms = 3000): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    if (p.status === want) {
      resolve(undefined);
      return;
    }
    const t = setTimeout(() => reject(new Error(`no ${want}, still ${p.status}`)), ms);
    p.on('status', (s, reason) => {
      if (s === want) {
        clearTimeout(t);
        resolve(reason);
      }
    });
  });
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met');
    await sleep(5);
  }
}

describe('RtmpPublisher protocol handling', () => {
  it('sends connect/releaseStream/FCPublish/createStream/publish with the URL parts, then headers and media', async () => {
    const { port, conns } = await fakeServer(accepting);
    const p = new RtmpPublisher({ url: `rtmp://127.0.0.1:${port}/live/_definst_?tok=1`, streamName: 'key', log });
    const sps = Buffer.from('6742c00dd9', 'hex');
    p.setHeaders({ video: avcSequenceHeader(sps, Buffer.from('68cb83cb20', 'hex')) });
    p.start();
    await until(() => p.phase === 'publishing');
    p.write(aacFrame(Buffer.from([1]), 0)); // audio before the first keyframe: dropped
    p.write(avcFrame([Buffer.from([0x41])], false, 0, 0)); // not a keyframe: dropped
    p.write(avcFrame([Buffer.from([0x65])], true, 0, 40));
    p.write(aacFrame(Buffer.from([2]), 45));
    await statusOf(p, 'active');
    await sleep(50);
    const c = conns[0] as FakeConn;
    const cmds = c.messages.filter((m) => m.type === MSG.commandAmf0).map((m) => parseCommand(m.payload));
    expect(cmds.map((x) => x.name)).toEqual(['connect', 'releaseStream', 'FCPublish', 'createStream', 'publish']);
    expect(cmds[0]?.object).toMatchObject({ app: 'live/_definst_', tcUrl: `rtmp://127.0.0.1:${port}/live/_definst_?tok=1`, flashVer: 'FMLE/3.0', type: 'nonprivate' });
    expect(cmds[4]?.args).toEqual(['key?tok=1', 'live']);
    expect(c.messages[0]?.type).toBe(MSG.setChunkSize);
    expect(c.messages[0]?.payload.readUInt32BE(0)).toBe(4096);
    const media = c.messages.filter((m) => m.type === MSG.audio || m.type === MSG.video);
    expect(media.map((m) => [m.type, m.timestamp, m.streamId])).toEqual([[9, 0, 1], [9, 40, 1], [8, 45, 1]]);
    expect(media[0]?.payload[1]).toBe(0); // the sequence header came first
    expect(p.stats.videoDropped).toBe(1);
    expect(p.stats.audioDropped).toBe(1);
    await p.close();
    const after = c.messages.filter((m) => m.type === MSG.commandAmf0).map((m) => parseCommand(m.payload).name);
    expect(after.slice(-2)).toEqual(['FCUnpublish', 'deleteStream']);
  });

  it('answers Ping Request, Set Peer Bandwidth, and acknowledges per window', async () => {
    const { port, conns } = await fakeServer(accepting);
    const p = new RtmpPublisher({ url: `rtmp://127.0.0.1:${port}/live`, streamName: 'k', log });
    p.start();
    await until(() => p.phase === 'publishing');
    const c = conns[0] as FakeConn;
    c.send(2, MSG.windowAckSize, 0, Buffer.from('00000400', 'hex')); // 1024 bytes
    c.send(2, MSG.setPeerBandwidth, 0, Buffer.from('0000080002', 'hex'));
    c.send(2, MSG.userControl, 0, Buffer.from('000600001234', 'hex'));
    c.send(3, MSG.dataAmf0, 0, Buffer.alloc(1500)); // enough bytes to pass the window
    await until(() => c.messages.some((m) => m.type === MSG.acknowledgement));
    await until(() => c.messages.some((m) => m.type === MSG.userControl));
    const pong = c.messages.find((m) => m.type === MSG.userControl);
    expect(pong?.payload.toString('hex')).toBe('000700001234');
    const win = c.messages.find((m) => m.type === MSG.windowAckSize);
    expect(win?.payload.readUInt32BE(0)).toBe(2048);
    const ack = c.messages.find((m) => m.type === MSG.acknowledgement);
    expect(ack?.payload.readUInt32BE(0)).toBeGreaterThanOrEqual(1024);
    await p.close();
  });

  it('fails with the server reason on _error for connect and on an error onStatus', async () => {
    const rejecting = await fakeServer((cmd, c) => {
      if (cmd.name === 'connect') {
        c.send(3, MSG.commandAmf0, 0, encodeAmf0('_error', cmd.transactionId, null, { level: 'error', code: 'NetConnection.Connect.Rejected', description: 'auth' }));
      }
    });
    const p1 = new RtmpPublisher({ url: `rtmp://127.0.0.1:${rejecting.port}/live`, streamName: 'k', log });
    p1.start();
    expect(await statusOf(p1, 'failed')).toBe('NetConnection.Connect.Rejected: auth');
    await p1.close();

    const badName = await fakeServer((cmd, c) => {
      if (cmd.name === 'publish') c.send(5, MSG.commandAmf0, 1, status('NetStream.Publish.BadName', 'error'));
      else accepting(cmd, c);
    });
    const p2 = new RtmpPublisher({ url: `rtmp://127.0.0.1:${badName.port}/live`, streamName: 'k', log });
    p2.start();
    expect(await statusOf(p2, 'failed')).toMatch(/^NetStream.Publish.BadName/);
    await p2.close();
  });

  it('fails on timeout when the server never completes the handshake', async () => {
    const { port } = await fakeServer(accepting, { handshake: false });
    const p = new RtmpPublisher({ url: `rtmp://127.0.0.1:${port}/live`, streamName: 'k', log, connectTimeoutMs: 200 });
    p.start();
    expect(await statusOf(p, 'failed')).toMatch(/timeout/);
    await p.close();
  });

  it('with writeBatchMs, the tags of one interval leave in one socket write, in order; close() sends what is gathered before unpublishing', async () => {
    const { port, conns } = await fakeServer(accepting);
    const p = new RtmpPublisher({ url: `rtmp://127.0.0.1:${port}/live`, streamName: 'k', log, writeBatchMs: 40 });
    p.start();
    await until(() => p.phase === 'publishing');
    const c = conns[0] as FakeConn;
    const writes: number[] = [];
    const original = net.Socket.prototype.write;
    net.Socket.prototype.write = function (this: net.Socket, ...args: Parameters<typeof original>) {
      if (this.remotePort === port) writes.push((args[0] as Buffer).length);
      return original.apply(this, args);
    } as typeof original;
    try {
      const before = p.stats.bytesOut;
      p.write(avcFrame([Buffer.alloc(3000, 0x65)], true, 0, 0));
      for (let i = 1; i <= 4; i++) p.write(aacFrame(Buffer.alloc(200, i), i * 21));
      p.write(avcFrame([Buffer.alloc(900, 0x41)], false, 0, 40));
      expect(p.stats.bytesOut).toBe(before); // gathered, not written yet
      expect(p.queuedBytes).toBeGreaterThan(4100);
      await until(() => c.messages.filter((m) => m.type === MSG.audio || m.type === MSG.video).length === 6);
      expect(writes).toHaveLength(1);
      expect(p.stats.bytesOut - before).toBe(writes[0]);
      const media = c.messages.filter((m) => m.type === MSG.audio || m.type === MSG.video);
      expect(media.map((m) => [m.type, m.timestamp])).toEqual([[9, 0], [8, 21], [8, 42], [8, 63], [8, 84], [9, 40]]);
      p.write(aacFrame(Buffer.alloc(200, 9), 105));
      p.write(avcFrame([Buffer.alloc(900, 0x41)], false, 0, 80));
      await p.close();
    } finally {
      net.Socket.prototype.write = original;
    }
    const tail = c.messages.filter((m) => m.type !== MSG.acknowledgement).slice(-4);
    expect(tail.map((m) => (m.type === MSG.commandAmf0 ? parseCommand(m.payload).name : m.timestamp))).toEqual([105, 80, 'FCUnpublish', 'deleteStream']);
  });

  it('with writeBatchMs, every byte of 40 batches arrives intact, whether the server reads at once or stalls a while', async () => {
    const { port, conns } = await fakeServer(accepting);
    const p = new RtmpPublisher({ url: `rtmp://127.0.0.1:${port}/live`, streamName: 'k', log, writeBatchMs: 5, maxQueueBytes: 64 * 1024 * 1024 });
    p.start();
    await until(() => p.phase === 'publishing');
    const c = conns[0] as FakeConn;
    const sent: string[] = [];
    let ts = 0;
    let backlog = 0;
    for (let batch = 0; batch < 40; batch++) {
      if (batch === 10) c.socket.pause(); // the kernel stops taking whole batches: writes go asynchronous
      if (batch === 25) c.socket.resume();
      for (let i = 0; i < 3; i++) {
        const stalled = batch >= 10 && batch < 25;
        const body = Buffer.alloc((stalled ? 300_000 : 1000) + ((batch * 7 + i * 131) % 9000), (batch * 3 + i) & 0xff);
        const tag = i === 0 ? avcFrame([body], batch === 0, 0, (ts += 40)) : aacFrame(body, ts + i);
        sent.push(`${tag.type}:${tag.data.toString('base64')}`);
        p.write(tag);
      }
      await sleep(8); // past the batch interval: the next tags go into the next batch
      backlog = Math.max(backlog, p.queuedBytes);
    }
    expect(backlog).toBeGreaterThan(1024 * 1024); // the stall did leave writes queued (not taken whole)
    const media = (): RtmpMessage[] => c.messages.filter((m) => m.type === MSG.audio || m.type === MSG.video);
    await until(() => media().length === sent.length, 5000);
    expect(media().map((m) => `${m.type === MSG.video ? 'video' : 'audio'}:${m.payload.toString('base64')}`)).toEqual(sent);
    await p.close();
  });

  it('drops video up to the next keyframe while the socket is backed up, keeping audio', async () => {
    const { port, conns } = await fakeServer(accepting);
    const p = new RtmpPublisher({ url: `rtmp://127.0.0.1:${port}/live`, streamName: 'k', log, maxQueueBytes: 2 * 1024 * 1024 });
    p.start();
    await until(() => p.phase === 'publishing');
    (conns[0] as FakeConn).socket.pause(); // the server stops reading
    // Loopback kernel buffers take a few MB before our own backlog grows.
    const big = Buffer.alloc(1024 * 1024);
    let ts = 0;
    p.write(avcFrame([big], true, 0, ts));
    for (let i = 0; i < 30; i++) p.write(avcFrame([big], false, 0, (ts += 40)));
    const dropped = p.stats.videoDropped;
    expect(dropped).toBeGreaterThan(0);
    p.write(aacFrame(Buffer.alloc(10), ts)); // audio is kept
    expect(p.stats.audioDropped).toBe(0);
    p.write(avcFrame([Buffer.from([0x41])], false, 0, (ts += 40))); // still dropping until a keyframe
    expect(p.stats.videoDropped).toBe(dropped + 1);
    (conns[0] as FakeConn).socket.destroy(); // or close() waits its 2 s grace for a flush that cannot happen
    await p.close();
  });
});
