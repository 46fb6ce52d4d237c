/**
 * Every parser a stranger's bytes reach — RTP, RTCP, RFC 4733 events, the
 * H.264 and VP8 depacketizers, the SPS reader, the RTMP chunk decoder (with
 * the caps a publisher applies to servers), AMF0, RTMP commands, FLV, ADTS
 * and AudioSpecificConfig, SIP messages, URIs, Via, digest challenges and
 * Session-Expires — given random bytes and mutated valid input (fast-check,
 * fixed seeds): each returns a value or throws ParseError, never another
 * exception type.
 */
import { describe, it } from 'vitest';
import fc from 'fast-check';
import { ParseError } from '../../src/shared/errors.js';
import { parseRtpPacket, serializeRtpPacket } from '../../src/rtp/rtp-packet.js';
import { buildNack, buildPli, buildReceiverReport, buildSdesCname, buildSenderReport, parseRtcpCompound } from '../../src/rtp/rtcp.js';
import { decodeTelephoneEvent, DtmfReceiver, encodeTelephoneEvent } from '../../src/rtp/dtmf.js';
import { H264Depacketizer } from '../../src/rtp/h264-depacketizer.js';
import { Vp8Depacketizer } from '../../src/rtp/vp8-depacketizer.js';
import { parseSps } from '../../src/pipeline/h264-sps.js';
import { ChunkDecoder, ChunkEncoder } from '../../src/rtmp/chunk.js';
import { SERVER_LIMITS } from '../../src/rtmp/publisher.js';
import { decodeAmf0, encodeAmf0 } from '../../src/pipeline/amf0.js';
import { parseCommand } from '../../src/rtmp/messages.js';
import { FlvDemuxer, writeFlv } from '../../src/pipeline/flv-file.js';
import { avcFrame, avcSequenceHeader, aacFrame, onMetaData } from '../../src/pipeline/flv.js';
import { parseAdtsHeader, parseAudioSpecificConfig, splitAdts } from '../../src/pipeline/aac.js';
import { parseMessage } from '../../src/sip/message.js';
import { parseUri, parseNameAddr } from '../../src/sip/uri.js';
import { parseVia } from '../../src/sip/headers.js';
import { parseChallenge } from '../../src/sip/digest.js';
import { parseSessionExpires } from '../../src/sip/session-timer.js';

const RUNS = { numRuns: 1500, seed: 20261205 };

/** Runs `f`; any exception other than ParseError fails the property. */
function onlyParseError(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
  }
}

/** Random bytes, and flips / cuts / splices of a valid sample. */
function hostile(valid: Buffer, maxLength = 2048): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.uint8Array({ maxLength }).map((a) => Buffer.from(a)),
    fc.array(fc.tuple(fc.nat(Math.max(0, valid.length - 1)), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 }).map((flips) => {
      const b = Buffer.from(valid);
      for (const [i, v] of flips) b[i] = v;
      return b;
    }),
    fc.nat(valid.length).map((n) => valid.subarray(0, n)),
    fc.tuple(fc.nat(valid.length), fc.uint8Array({ maxLength: 64 })).map(([at, junk]) => Buffer.concat([valid.subarray(0, at), Buffer.from(junk), valid.subarray(at)])),
  );
}

const noop = (): void => undefined;

describe('parsers on hostile bytes: a value or ParseError, nothing else', () => {
  it('RTP packets and RFC 4733 events', () => {
    const valid = serializeRtpPacket({ payloadType: 96, marker: true, seq: 7, timestamp: 90000, ssrc: 1234 }, Buffer.alloc(40, 1));
    fc.assert(fc.property(hostile(valid), (b) => onlyParseError(() => parseRtpPacket(b))), RUNS);
    const ev = encodeTelephoneEvent({ event: 5, end: true, volume: 10, duration: 800 });
    const rx = new DtmfReceiver(8000, noop);
    fc.assert(fc.property(hostile(ev, 16), fc.nat(0xffffffff), (b, ts) => {
      onlyParseError(() => decodeTelephoneEvent(b));
      onlyParseError(() => rx.push(b, ts));
    }), RUNS);
  });

  it('RTCP compound packets', () => {
    const valid = Buffer.concat([
      buildSenderReport(1, { ntpSec: 1, ntpFrac: 2, rtpTimestamp: 3, packetCount: 4, octetCount: 5 }, []),
      buildReceiverReport(1, [{ ssrc: 2, fractionLost: 0, cumulativeLost: 1, extHighestSeq: 100, jitter: 3, lsr: 0, dlsr: 0 }]),
      buildSdesCname(1, 'x@y'), buildNack(1, 2, [5, 7, 9]), buildPli(1, 2),
    ]);
    fc.assert(fc.property(hostile(valid), (b) => onlyParseError(() => parseRtcpCompound(b))), RUNS);
  });

  it('H.264 and VP8 depacketizers, and the SPS reader', () => {
    const h264 = new H264Depacketizer({ frame: noop, keyframeNeeded: noop });
    const vp8 = new Vp8Depacketizer({ frame: noop, keyframeNeeded: noop });
    const fu = Buffer.from([0x7c, 0x85, ...Array.from({ length: 60 }, (_, i) => i)]);
    fc.assert(fc.property(hostile(fu, 300), fc.nat(0xffffffff), fc.boolean(), fc.nat(3), (b, ts, marker, gap) => {
      onlyParseError(() => h264.push(b, ts, marker, gap));
      onlyParseError(() => vp8.push(b, ts, marker, gap));
    }), RUNS);
    const sps = Buffer.from([0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xec, 0x04, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40]);
    fc.assert(fc.property(hostile(sps, 64), (b) => onlyParseError(() => parseSps(b))), RUNS);
  });

  it('RTMP chunks from a server (the publisher\'s caps), AMF0 and commands', () => {
    const enc = new ChunkEncoder();
    const cmd = encodeAmf0('_result', 1, null, { level: 'status', code: 'NetConnection.Connect.Success', n: 3.5, ok: true });
    const valid = Buffer.concat([enc.encode(3, 20, 0, 0, cmd), enc.encode(2, 1, 0, 0, Buffer.from([0, 0, 0x10, 0])), enc.encode(3, 20, 0, 10, cmd)]);
    fc.assert(fc.property(fc.array(hostile(valid, 600), { minLength: 1, maxLength: 4 }), (parts) => {
      const dec = new ChunkDecoder(SERVER_LIMITS);
      for (const p of parts) {
        onlyParseError(() => {
          for (const m of dec.push(p)) onlyParseError(() => parseCommand(m.payload));
        });
      }
    }), RUNS);
    fc.assert(fc.property(hostile(cmd, 300), (b) => {
      onlyParseError(() => decodeAmf0(b));
      onlyParseError(() => parseCommand(b));
    }), RUNS);
  });

  it('FLV, ADTS and AudioSpecificConfig', () => {
    const flv = writeFlv([
      onMetaData({ width: 320, height: 240 }), avcSequenceHeader(Buffer.from([0x67, 0x42, 0xc0, 0x1f]), Buffer.from([0x68, 0xce])),
      avcFrame([Buffer.from([0x65, 1, 2, 3])], true, 0, 0), aacFrame(Buffer.from([0x21, 0x10]), 20),
    ], { hasAudio: true, hasVideo: true });
    fc.assert(fc.property(hostile(flv, 400), fc.nat(60), (b, cut) => {
      const d = new FlvDemuxer();
      onlyParseError(() => {
        d.push(b.subarray(0, cut));
        d.push(b.subarray(cut));
      });
    }), RUNS);
    const adts = Buffer.from([0xff, 0xf1, 0x4c, 0x40, 0x01, 0x9f, 0xfc, 0x00, 0xc8, 0x00, 0x80, 0x23, 0x80]);
    fc.assert(fc.property(hostile(adts, 64), (b) => {
      onlyParseError(() => parseAdtsHeader(b));
      onlyParseError(() => splitAdts(b));
      onlyParseError(() => parseAudioSpecificConfig(b));
    }), RUNS);
  });

  it('SIP messages, URIs, Via, digest challenges and Session-Expires', () => {
    const msg = Buffer.from([
      'SIP/2.0 401 Unauthorized', 'Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport=5060;received=10.0.0.2',
      'From: "A" <sip:a@x.test>;tag=1', 'To: <sip:b@y.test>;tag=2', 'Call-ID: abc', 'CSeq: 1 INVITE',
      'WWW-Authenticate: Digest realm="r", nonce="n", qop="auth", algorithm=SHA-256', 'Session-Expires: 1800;refresher=uac',
      'Content-Length: 4', '', 'v=0\n',
    ].join('\r\n'));
    fc.assert(fc.property(hostile(msg, 800), (b) => onlyParseError(() => parseMessage(b))), RUNS);
    const text = (s: string): fc.Arbitrary<string> => hostile(Buffer.from(s), 200).map((b) => b.toString('latin1'));
    fc.assert(fc.property(text('"Bob" <sips:bob@[::1]:5061;transport=tls?x=y>;tag=9'), (s) => {
      onlyParseError(() => parseNameAddr(s));
      onlyParseError(() => parseUri(s));
    }), RUNS);
    fc.assert(fc.property(text('SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bKx;rport'), (s) => onlyParseError(() => parseVia(s))), RUNS);
    fc.assert(fc.property(text('Digest realm="a, b", nonce="n", opaque="o", qop="auth,auth-int", algorithm=MD5-sess, stale=TRUE'), (s) => onlyParseError(() => parseChallenge(s))), RUNS);
    fc.assert(fc.property(text('1800;refresher=uas'), (s) => onlyParseError(() => parseSessionExpires(s))), RUNS);
  });
});
