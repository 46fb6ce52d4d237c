import { describe, it, expect } from 'vitest';
import { answerDirection, buildAnswer, isHoldOffer } from '../../../src/sip/sdp-answer.js';
import { ParseError } from '../../../src/shared/errors.js';

const opts = {
  address: '192.0.2.10', audioPort: 31000, videoPort: 31002, sendAudio: true, sendVideo: false,
  audioCodecs: ['pcma', 'pcmu', 'telephone-event'] as const, videoCodecs: ['h264'] as const, sessionId: 7, sessionVersion: 3,
};
const offer = (dirA: string, dirV: string, c = '198.51.100.1'): string => [
  'v=0', 'o=far 1 2 IN IP4 198.51.100.1', 's=-', `c=IN IP4 ${c}`, 't=0 0',
  'm=audio 5000 RTP/AVP 0 8 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', `a=${dirA}`,
  'm=video 5002 RTP/AVP 96', 'a=rtpmap:96 H264/90000', 'a=fmtp:96 packetization-mode=1', `a=${dirV}`,
  'm=application 5004 UDP/BFCP *', '',
].join('\r\n');

describe('SDP answer to a far-end offer (RFC 3264 §6)', () => {
  it('answers every m-line in order: first common codec + telephone-event, our ports, mirrored direction', () => {
    const a = buildAnswer(offer('sendrecv', 'sendrecv'), opts).split('\r\n');
    expect(a).toContain('o=- 7 3 IN IP4 192.0.2.10');
    expect(a).toContain('m=audio 31000 RTP/AVP 0 101');
    expect(a).toContain('m=video 31002 RTP/AVP 96');
    expect(a).toContain('a=fmtp:96 packetization-mode=1');
    expect(a).toContain('m=application 0 UDP/BFCP *');
    const dirs = a.filter((l) => /^a=(sendrecv|recvonly|sendonly|inactive)$/.test(l));
    expect(dirs).toEqual(['a=sendrecv', 'a=recvonly']); // sendVideo false → recvonly
  });
  it('mirrors hold offers: sendonly → recvonly, inactive → inactive', () => {
    const a = buildAnswer(offer('sendonly', 'inactive'), opts);
    expect(a).toMatch(/m=audio[^]*a=recvonly[^]*m=video[^]*a=inactive/);
  });
  it('direction table', () => {
    expect(answerDirection('recvonly', true)).toBe('sendonly');
    expect(answerDirection('recvonly', false)).toBe('inactive');
    expect(answerDirection('sendrecv', false)).toBe('recvonly');
  });
  it('refuses an offer with nothing in common, and garbage', () => {
    const none = 'v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n';
    expect(() => buildAnswer(none, opts)).toThrow(ParseError);
    expect(() => buildAnswer('hello', opts)).toThrow(ParseError);
  });
  it('detects hold: all active media sendonly/inactive, or c=0.0.0.0; not a resume', () => {
    expect(isHoldOffer(offer('sendonly', 'sendonly'))).toBe(true);
    expect(isHoldOffer(offer('inactive', 'sendonly'))).toBe(true);
    expect(isHoldOffer(offer('sendrecv', 'sendrecv', '0.0.0.0'))).toBe(true);
    expect(isHoldOffer(offer('sendonly', 'sendrecv'))).toBe(false);
    expect(isHoldOffer(offer('sendrecv', 'sendrecv'))).toBe(false);
  });
});
