import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { buildOffer, parseAnswer, receivePayloadTypes } from '../../../src/sip/sdp.js';
import { buildAnswer, isHoldOffer } from '../../../src/sip/sdp-answer.js';
import { ParseError } from '../../../src/shared/errors.js';

const base = {
  address: '192.0.2.10', audioPort: 31000, videoPort: 31002, sendAudio: true, sendVideo: false,
  audioCodecs: ['opus', 'pcma', 'pcmu', 'g722', 'speex16', 'telephone-event'] as const,
  videoCodecs: ['h264', 'vp8'] as const, h264Profiles: ['42e01f', '640028'], sessionId: 123,
};

const sdp = (...media: string[]): string => ['v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0', ...media, ''].join('\r\n');

describe('SDP offer (SPEC §4)', () => {
  const offer = buildOffer({ ...base, extraSessionLines: ['b=AS:3000'] });
  const lines = offer.split('\r\n');

  it('offers both m-lines, sendrecv/recvonly per hasAudio/hasVideo, with RTCP ports', () => {
    expect(lines).toContain('m=audio 31000 RTP/AVP 111 8 0 9 98 101');
    expect(lines).toContain('m=video 31002 RTP/AVP 96 97 98 99 100');
    const audio = lines.slice(lines.indexOf('m=audio 31000 RTP/AVP 111 8 0 9 98 101'), lines.indexOf('m=video 31002 RTP/AVP 96 97 98 99 100'));
    expect(audio).toContain('a=rtcp:31001');
    expect(audio).toContain('a=sendrecv');
    const video = lines.slice(lines.indexOf('m=video 31002 RTP/AVP 96 97 98 99 100'));
    expect(video).toContain('a=rtcp:31003');
    expect(video).toContain('a=recvonly');
  });

  it('lists H.264 profiles in packetization mode 1 then 0, then VP8, with NACK/PLI/FIR feedback', () => {
    expect(lines).toContain('a=fmtp:96 profile-level-id=42e01f;packetization-mode=1');
    expect(lines).toContain('a=fmtp:97 profile-level-id=640028;packetization-mode=1');
    expect(lines).toContain('a=fmtp:98 profile-level-id=42e01f;packetization-mode=0');
    expect(lines).toContain('a=fmtp:99 profile-level-id=640028;packetization-mode=0');
    expect(lines).toContain('a=rtpmap:100 VP8/90000');
    expect(lines).toEqual(expect.arrayContaining(['a=rtcp-fb:* nack', 'a=rtcp-fb:* nack pli', 'a=rtcp-fb:* ccm fir']));
  });

  it('places sipSDP lines after c= and before t=', () => {
    expect(lines.indexOf('b=AS:3000')).toBe(lines.indexOf('c=IN IP4 192.0.2.10') + 1);
    expect(lines.indexOf('t=0 0')).toBe(lines.indexOf('b=AS:3000') + 1);
  });

  it('keeps the offer of the codecs received today small enough for a UDP INVITE (SPEC §9.6)', () => {
    // An INVITE's headers take ~500 bytes; 1300 bytes is the UDP budget (RFC 3261 §18.1.1).
    const small = buildOffer({ ...base, audioCodecs: ['pcma', 'pcmu', 'telephone-event'], videoCodecs: ['h264'] });
    expect(Buffer.byteLength(small)).toBeLessThan(700);
    expect(Buffer.byteLength(offer)).toBeLessThan(900);
  });
});

describe('SDP answer', () => {
  const answer = [
    'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
    'm=audio 6000 RTP/AVP 8 101', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv',
    'm=video 6002 RTP/AVP 96', 'c=IN IP4 127.0.0.2', 'a=rtpmap:96 H264/90000', 'a=fmtp:96 profile-level-id=42e01f;packetization-mode=1', 'a=rtcp:7003', 'a=sendonly', '',
  ].join('\r\n');

  it('reads codec, address, ports, direction and telephone-event per m-line', () => {
    const s = parseAnswer(answer);
    expect(s.audio).toMatchObject({ address: '127.0.0.1', port: 6000, rtcpPort: 6001, direction: 'sendrecv', telephoneEventPt: 101, codec: { pt: 8, name: 'PCMA', clockRate: 8000 } });
    expect(s.video).toMatchObject({ address: '127.0.0.2', port: 6002, rtcpPort: 7003, direction: 'sendonly', codec: { pt: 96, name: 'H264', fmtp: 'profile-level-id=42e01f;packetization-mode=1' } });
  });

  it('treats a port-0 m-line as rejected and knows static payload types without rtpmap', () => {
    const s = parseAnswer(['v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0', 'm=audio 5004 RTP/AVP 0', 'm=video 0 RTP/AVP 96', ''].join('\r\n'));
    expect(s.audio?.codec).toMatchObject({ pt: 0, name: 'PCMU', clockRate: 8000 });
    expect(s.video).toBeNull();
  });

  it('refuses, with a reason, an m-line without a connection address', () => {
    const s = parseAnswer(['v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 't=0 0', 'm=audio 5004 RTP/AVP 0', ''].join('\r\n'));
    expect(s.audio).toBeNull();
    expect(s.problems).toEqual(['audio m-line without a connection address']);
  });

  it.each([
    ['m=audio 65535 RTP/AVP 8', 'audio RTCP port 65536 is out of range'],
    ['m=audio 65536 RTP/AVP 8', 'audio port 65536 is out of range'],
    ['m=audio 5004 RTP/AVP 8\r\na=rtcp:0', 'audio RTCP port 0 is out of range'],
    ['m=audio 5004 RTP/AVP 8\r\na=rtcp:70000', 'audio RTCP port 70000 is out of range'],
    ['m=audio 5004 RTP/AVP 8\r\nc=IN IP4 media.example.com', 'audio connection address "media.example.com" is not an IP literal'],
    ['m=audio 5004 RTP/AVP 8 200', 'audio payload type out of range'],
  ])('refuses %j at the edge: %s', (m, problem) => {
    const s = parseAnswer(sdp(m, 'm=video 6000 RTP/AVP 96', 'a=rtpmap:96 H264/90000'));
    expect(s.audio).toBeNull();
    expect(s.problems).toEqual([problem]);
    // The other m-line is still usable.
    expect(s.video).toMatchObject({ port: 6000, rtcpPort: 6001 });
  });

  it('accepts RTP on 65534 (RTCP 65535) and an IPv6 literal', () => {
    expect(parseAnswer(sdp('m=audio 65534 RTP/AVP 8')).audio).toMatchObject({ port: 65534, rtcpPort: 65535 });
    expect(parseAnswer(sdp('m=audio 5004 RTP/AVP 8', 'c=IN IP6 ::1')).audio).toMatchObject({ address: '::1' });
  });

  it('throws ParseError for text that is not SDP', () => {
    expect(() => parseAnswer('hello')).toThrow(ParseError);
  });
});

describe('what we receive (RFC 3264 §5.1)', () => {
  const offer = buildOffer({ ...base, sendVideo: true });
  const local = parseAnswer(offer);

  it('receives every offered payload type of the negotiated codec and telephone-event, plus the answer\'s own numbers for them', () => {
    // baresip's way: it answers H.264 under its own number, then sends under one of ours.
    const answer = parseAnswer(sdp(
      'm=audio 6000 RTP/AVP 8 100', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:100 telephone-event/8000',
      'm=video 6002 RTP/AVP 102', 'a=rtpmap:102 H264/90000',
    ));
    const video = receivePayloadTypes(local.video?.payloadTypes, answer.video!);
    expect(Object.keys(video).map(Number)).toEqual([96, 97, 98, 99, 102]);
    expect(Object.values(video).every((c) => c.name === 'H264')).toBe(true);
    const audio = receivePayloadTypes(local.audio?.payloadTypes, answer.audio!);
    expect(audio).toEqual({
      8: { name: 'PCMA', clockRate: 8000 }, 100: { name: 'telephone-event', clockRate: 8000 }, 101: { name: 'telephone-event', clockRate: 8000 },
    });
  });

  it('keeps our numbering when the answer maps one of our numbers to another codec', () => {
    const answer = parseAnswer(sdp('m=video 6002 RTP/AVP 100', 'a=rtpmap:100 H264/90000'));
    const video = receivePayloadTypes(local.video?.payloadTypes, answer.video!);
    // 100 is VP8 in our offer: the far end sends H.264 under 96-99 or must re-offer.
    expect(Object.keys(video).map(Number)).toEqual([96, 97, 98, 99]);
  });

  it('without an SDP of ours, receives what the far end listed for the negotiated codec', () => {
    const answer = parseAnswer(sdp('m=audio 6000 RTP/AVP 0 8', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000'));
    expect(receivePayloadTypes(undefined, answer.audio!)).toEqual({ 0: { name: 'PCMU', clockRate: 8000 } });
  });
});

describe('SDP parsers on hostile input', () => {
  const valid = buildOffer({ ...base, sendVideo: true });
  const opts = { address: '127.0.0.1', audioPort: 30000, videoPort: 30002, sendAudio: true, sendVideo: true, audioCodecs: base.audioCodecs, videoCodecs: base.videoCodecs, sessionId: 1, sessionVersion: 2 };
  const onlyParseErrors = (text: string): void => {
    for (const f of [() => parseAnswer(text), () => isHoldOffer(text), () => buildAnswer(text, opts)]) {
      try {
        f();
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
      }
    }
  };

  it('random text throws ParseError or returns a value', () => {
    fc.assert(fc.property(fc.string({ maxLength: 400 }), (t) => onlyParseErrors(t)), { numRuns: 1500, seed: 17 });
  });

  it('mutated and truncated offers throw ParseError or return a value, and what is returned is in range', () => {
    const lines = valid.split('\r\n');
    const junk = fc.oneof(fc.constantFrom('65536', '-1', '0', '99999999999', 'NaN', 'host.example', '::', '', 'a=rtcp:0', 'c=IN IP4', 'm=audio x RTP/AVP'), fc.string({ maxLength: 20 }));
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(lines.length - 1), fc.nat(40), junk), { maxLength: 6 }), fc.nat(valid.length), (edits, cut) => {
      const l = [...lines];
      for (const [i, at, j] of edits) l[i] = `${(l[i] ?? '').slice(0, at)}${j}${(l[i] ?? '').slice(at + j.length)}`;
      const text = l.join('\r\n').slice(0, Math.max(cut, valid.length / 2));
      onlyParseErrors(text);
      let s;
      try {
        s = parseAnswer(text);
      } catch {
        return;
      }
      for (const m of [s.audio, s.video]) {
        if (m === null) continue;
        expect(m.port).toBeGreaterThanOrEqual(1);
        expect(m.rtcpPort).toBeLessThanOrEqual(65535);
        expect(m.rtcpPort).toBeGreaterThanOrEqual(1);
      }
    }), { numRuns: 1500, seed: 42 });
  });
});
