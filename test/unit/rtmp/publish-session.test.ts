/**
 * PublishSession without sockets or timers: server bytes are built with the
 * project's own ChunkEncoder/amf0 (as test/helpers/fake-rtmp-server.ts does)
 * and the bytes the session sends are compared with an encoder of our own.
 */
import { describe, it, expect } from 'vitest';
import { encodeAmf0 } from '../../../src/pipeline/amf0.js';
import { ChunkDecoder, ChunkEncoder, MSG } from '../../../src/rtmp/chunk.js';
import { avcFrame, onMetaData } from '../../../src/pipeline/flv.js';
import { HANDSHAKE_SIZE } from '../../../src/rtmp/handshake.js';
import {
  USER_CONTROL, acknowledgementPayload, setChunkSizePayload, setPeerBandwidthPayload,
  userControlPayload, windowAckSizePayload,
} from '../../../src/rtmp/messages.js';
import { OUT_CHUNK_SIZE, PublishSession, type PublishSessionHooks } from '../../../src/rtmp/publish-session.js';
import { parseRtmpUrl } from '../../../src/rtmp/url.js';
import { ParseError } from '../../../src/shared/errors.js';

const target = parseRtmpUrl('rtmp://example.test/live', 'key1');
const result = (tid: number, info: unknown): Buffer => encodeAmf0('_result', tid, null, info as null);
const onStatus = (code: string, level = 'status'): Buffer =>
  encodeAmf0('onStatus', 0, null, { level, code, description: code });

/** A session with recording hooks, and a server-side encoder for its replies. */
function setup(opts: { stripSetDataFrame?: boolean; onRefused?: (s: PublishSession) => void } = {}) {
  const sent: Buffer[] = [];
  const events: string[] = [];
  const hooks: PublishSessionHooks = {
    send: (b) => sent.push(b),
    negotiating: () => events.push('negotiating'),
    publishStart: () => events.push('publishStart'),
    refused: (reason) => {
      events.push(`refused: ${reason}`);
      opts.onRefused?.(session);
    },
  };
  const session: PublishSession = new PublishSession(
    { target, publishName: 'key1?sig=abc', stripSetDataFrame: opts.stripSetDataFrame ?? false },
    hooks,
  );
  const server = new ChunkEncoder();
  const reply = (csid: number, type: number, streamId: number, payload: Buffer): Buffer =>
    server.encode(csid, type, streamId, 0, payload);
  /** Bytes sent since the last call, joined. */
  const take = (): Buffer => Buffer.concat(sent.splice(0));
  const fed = { bytes: 0 };
  const push = (data: Buffer): void => {
    fed.bytes += data.length;
    session.push(data);
  };
  return { session, events, sent, reply, take, push, fed };
}

/** Runs the handshake (S0+S1+S2 at once); returns the session's bytes after C2. */
function handshake(s: ReturnType<typeof setup>): Buffer {
  s.session.start();
  const c0c1 = s.take();
  expect(c0c1.length).toBe(1 + HANDSHAKE_SIZE);
  expect(c0c1[0]).toBe(3);
  expect(s.session.state).toBe('handshaking');
  s.push(Buffer.concat([Buffer.of(3), Buffer.alloc(HANDSHAKE_SIZE, 1), c0c1.subarray(1)]));
  const out = s.take();
  // C2 echoes S1 (all but our read time at bytes 4..8).
  expect(out.subarray(8, HANDSHAKE_SIZE).equals(Buffer.alloc(HANDSHAKE_SIZE - 8, 1))).toBe(true);
  return out.subarray(HANDSHAKE_SIZE);
}

describe('PublishSession', () => {
  it('sends connect, then releaseStream/FCPublish/createStream, then publish, and reaches publishing', () => {
    const s = setup();
    const expected = new ChunkEncoder();
    const cmd = (csid: number, streamId: number, body: Buffer): Buffer =>
      expected.encode(csid, MSG.commandAmf0, streamId, 0, body);

    const afterHandshake = handshake(s);
    expect(s.session.state).toBe('negotiating');
    expect(s.events).toEqual(['negotiating']);
    const setChunk = expected.encode(2, MSG.setChunkSize, 0, 0, setChunkSizePayload(OUT_CHUNK_SIZE));
    expected.chunkSize = OUT_CHUNK_SIZE;
    const connect = cmd(3, 0, encodeAmf0('connect', 1, {
      app: 'live', type: 'nonprivate', flashVer: 'FMLE/3.0', swfUrl: target.tcUrl, tcUrl: target.tcUrl,
    }));
    expect(afterHandshake.equals(Buffer.concat([setChunk, connect]))).toBe(true);

    s.push(s.reply(3, MSG.commandAmf0, 0, result(1, { level: 'status', code: 'NetConnection.Connect.Success' })));
    expect(s.take().equals(Buffer.concat([
      cmd(3, 0, encodeAmf0('releaseStream', 2, null, 'key1?sig=abc')),
      cmd(3, 0, encodeAmf0('FCPublish', 3, null, 'key1?sig=abc')),
      cmd(3, 0, encodeAmf0('createStream', 4, null)),
    ]))).toBe(true);
    expect(s.session.publishSent).toBe(false);

    s.push(s.reply(3, MSG.commandAmf0, 0, result(4, 1)));
    expect(s.take().equals(cmd(5, 1, encodeAmf0('publish', 5, null, 'key1?sig=abc', 'live')))).toBe(true);
    expect(s.session.publishSent).toBe(true);
    expect(s.session.streamId).toBe(1);
    expect(s.session.state).toBe('negotiating');

    s.push(s.reply(5, MSG.commandAmf0, 1, onStatus('NetStream.Publish.Start')));
    expect(s.session.state).toBe('publishing');
    expect(s.events).toEqual(['negotiating', 'publishStart']);
    expect(s.sent).toEqual([]);

    // A second Publish.Start changes nothing.
    s.push(s.reply(5, MSG.commandAmf0, 1, onStatus('NetStream.Publish.Start')));
    expect(s.events).toEqual(['negotiating', 'publishStart']);

    const frame = avcFrame([Buffer.from([0x65, 1, 2, 3])], true, 0, 40);
    s.session.sendTag(frame);
    expect(s.take().equals(expected.encode(6, MSG.video, 1, 40, frame.data))).toBe(true);

    s.session.unpublish();
    expect(s.take().equals(Buffer.concat([
      cmd(3, 0, encodeAmf0('FCUnpublish', 6, null, 'key1?sig=abc')),
      cmd(3, 0, encodeAmf0('deleteStream', 7, null, 1)),
    ]))).toBe(true);
  });

  it('reports a refused publish and ignores the rest of the input once stopped', () => {
    const s = setup({ onRefused: (session) => session.stop() });
    handshake(s);
    s.push(s.reply(3, MSG.commandAmf0, 0, result(1, { level: 'status', code: 'NetConnection.Connect.Success' })));
    s.push(s.reply(3, MSG.commandAmf0, 0, result(4, 1)));
    s.take();
    s.push(Buffer.concat([
      s.reply(5, MSG.commandAmf0, 1, onStatus('NetStream.Publish.BadName', 'error')),
      s.reply(5, MSG.commandAmf0, 1, onStatus('NetStream.Publish.Start')),
    ]));
    expect(s.events).toEqual(['negotiating', 'refused: NetStream.Publish.BadName: NetStream.Publish.BadName']);
    expect(s.session.state).toBe('stopped');
    expect(s.sent).toEqual([]);
  });

  it('treats a rejected connect and a createStream without id as refusals; _error for FCPublish is harmless', () => {
    const a = setup();
    handshake(a);
    a.push(a.reply(3, MSG.commandAmf0, 0, result(1, { level: 'error', code: 'NetConnection.Connect.Rejected', description: 'no' })));
    expect(a.events).toEqual(['negotiating', 'refused: NetConnection.Connect.Rejected: no']);
    expect(a.sent).toEqual([]);

    const b = setup();
    handshake(b);
    b.push(b.reply(3, MSG.commandAmf0, 0, result(1, { level: 'status', code: 'NetConnection.Connect.Success' })));
    b.push(b.reply(3, MSG.commandAmf0, 0, encodeAmf0('_error', 3, null, { level: 'error', code: 'X' })));
    expect(b.events).toEqual(['negotiating']);
    b.push(b.reply(3, MSG.commandAmf0, 0, result(4, null)));
    expect(b.events).toEqual(['negotiating', 'refused: createStream answered without a stream id']);
    expect(b.session.publishSent).toBe(false);
  });

  it('answers ping, peer bandwidth and acknowledges a window of received bytes', () => {
    const s = setup();
    const ours = new ChunkDecoder();
    ours.push(handshake(s)); // setChunkSize + connect
    const decode = () => ours.push(s.take());
    s.push(s.reply(2, MSG.userControl, 0, userControlPayload(USER_CONTROL.pingRequest, 77)));
    s.push(s.reply(2, MSG.setPeerBandwidth, 0, setPeerBandwidthPayload(2_500_000, 2)));
    s.push(s.reply(2, MSG.setPeerBandwidth, 0, setPeerBandwidthPayload(2_500_000, 2)));
    const msgs = decode();
    expect(msgs.map((m) => [m.type, m.payload.toString('hex')])).toEqual([
      [MSG.userControl, userControlPayload(USER_CONTROL.pingResponse, 77).toString('hex')],
      [MSG.windowAckSize, windowAckSizePayload(2_500_000).toString('hex')],
    ]);
    // Window of 4000 bytes (the handshake counts): acknowledged once that many arrived since the last ack.
    s.push(s.reply(2, MSG.windowAckSize, 0, windowAckSizePayload(4000)));
    expect(decode()).toEqual([]);
    s.push(s.reply(7, MSG.dataAmf0, 0, encodeAmf0('x'.repeat(1000))));
    const acks = decode();
    expect(s.fed.bytes).toBeGreaterThanOrEqual(4000);
    expect(acks.map((m) => [m.type, m.payload.toString('hex')])).toEqual([
      [MSG.acknowledgement, acknowledgementPayload(s.fed.bytes).toString('hex')],
    ]);
    s.push(s.reply(7, MSG.dataAmf0, 0, encodeAmf0('y'.repeat(1000))));
    expect(decode()).toEqual([]);
  });

  it('strips @setDataFrame from metadata when asked', () => {
    const s = setup({ stripSetDataFrame: true });
    const dec = new ChunkDecoder();
    dec.push(handshake(s));
    const meta = onMetaData({ width: 640, height: 360 });
    s.session.sendTag(meta);
    const [m] = dec.push(s.take());
    expect(m?.type).toBe(MSG.dataAmf0);
    expect(m?.payload.equals(meta.data.subarray(encodeAmf0('@setDataFrame').length))).toBe(true);
    expect(m?.payload.subarray(0, 13).equals(encodeAmf0('onMetaData'))).toBe(true);
  });

  it('throws ParseError on a server that is not RTMP version 3', () => {
    const s = setup();
    s.session.start();
    expect(() => s.push(Buffer.of(6))).toThrow(ParseError);
  });

  it('ignores input before start and after stop', () => {
    const s = setup();
    s.push(Buffer.of(3, 0, 0));
    expect(s.sent).toEqual([]);
    s.session.start();
    s.take();
    s.session.stop();
    s.push(Buffer.concat([Buffer.of(3), Buffer.alloc(2 * HANDSHAKE_SIZE)]));
    expect(s.sent).toEqual([]);
    expect(s.events).toEqual([]);
  });
});
