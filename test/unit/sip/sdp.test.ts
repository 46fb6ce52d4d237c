import { describe, it, expect } from 'vitest';
import { buildOffer, parseAnswer } from '../../../src/sip/sdp.js';
import { ParseError } from '../../../src/shared/errors.js';

const base = {
  address: '192.0.2.10', audioPort: 31000, videoPort: 31002, sendAudio: true, sendVideo: false,
  audioCodecs: ['opus', 'pcma', 'pcmu', 'g722', 'speex16', 'telephone-event'] as const,
  videoCodecs: ['h264', 'vp8'] as const, h264Profiles: ['42e01f', '640028'], sessionId: 123,
};

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

  it('throws ParseError for SDP without a connection address', () => {
    expect(() => parseAnswer(['v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 't=0 0', 'm=audio 5004 RTP/AVP 0', ''].join('\r\n'))).toThrow(ParseError);
  });
});
