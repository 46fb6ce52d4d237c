import { describe, it, expect } from 'vitest';
import { HandshakeClient, HANDSHAKE_SIZE } from '../../../src/rtmp/handshake.js';
import { parseRtmpUrl } from '../../../src/rtmp/url.js';
import { PUBLISHER_PHASES, PUBLISHER_TRANSITIONS, nextPhase } from '../../../src/rtmp/publisher-state.js';
import { InvalidStateError, ParseError } from '../../../src/shared/errors.js';

describe('HandshakeClient', () => {
  it('sends C0+C1, answers S1 with C2 and hands over the bytes after S2', () => {
    const hs = new HandshakeClient(1000);
    const c0c1 = hs.start(1005);
    expect(c0c1.length).toBe(1 + HANDSHAKE_SIZE);
    expect(c0c1[0]).toBe(3);
    expect(c0c1.readUInt32BE(1)).toBe(5);
    expect(c0c1.readUInt32BE(5)).toBe(0); // simple handshake marker
    const s1 = Buffer.alloc(HANDSHAKE_SIZE, 7);
    s1.writeUInt32BE(42, 0);
    const s2 = Buffer.from(hs.c1 ?? Buffer.alloc(0));
    const step1 = hs.push(Buffer.concat([Buffer.of(3), s1.subarray(0, 100)]), 1010);
    expect(step1).toEqual({ done: false });
    const step2 = hs.push(s1.subarray(100), 1010);
    expect(step2.done).toBe(false);
    const c2 = step2.send as Buffer;
    expect(c2.readUInt32BE(0)).toBe(42);
    expect(c2.readUInt32BE(4)).toBe(10);
    expect(c2.subarray(8).equals(s1.subarray(8))).toBe(true);
    const step3 = hs.push(Buffer.concat([s2, Buffer.from('0203', 'hex')]));
    expect(step3.done).toBe(true);
    expect(step3.send).toBeUndefined();
    expect(step3.done && step3.rest.toString('hex')).toBe('0203');
  });

  it('handles S0+S1+S2 arriving at once', () => {
    const hs = new HandshakeClient();
    hs.start();
    const step = hs.push(Buffer.concat([Buffer.of(3), Buffer.alloc(2 * HANDSHAKE_SIZE)]));
    expect(step.done).toBe(true);
    expect(step.send?.length).toBe(HANDSHAKE_SIZE);
  });

  it('rejects a server that is not RTMP version 3', () => {
    const hs = new HandshakeClient();
    hs.start();
    expect(() => hs.push(Buffer.from('48545450', 'hex'))).toThrow(ParseError); // "HTTP"
  });
});

describe('parseRtmpUrl', () => {
  it('splits app, instance and query', () => {
    expect(parseRtmpUrl('rtmp://host:1935/live/_definst_?p1=v1&p2=v2', 'streamName2')).toEqual({
      secure: false, host: 'host', port: 1935, app: 'live/_definst_',
      tcUrl: 'rtmp://host:1935/live/_definst_?p1=v1&p2=v2', streamName: 'streamName2?p1=v1&p2=v2',
    });
    expect(parseRtmpUrl('rtmp://h/live/', 'k?x=1')).toMatchObject({ port: 1935, app: 'live', tcUrl: 'rtmp://h/live', streamName: 'k?x=1' });
    expect(parseRtmpUrl('rtmp://h/live?a=b', 'k?x=1').streamName).toBe('k?x=1&a=b');
    expect(parseRtmpUrl('rtmps://[::1]/app', 'k')).toMatchObject({ secure: true, host: '::1', port: 443, tcUrl: 'rtmps://[::1]/app' });
  });

  it('rejects URLs that are not RTMP or have no app', () => {
    expect(() => parseRtmpUrl('http://h/live', 'k')).toThrow(ParseError);
    expect(() => parseRtmpUrl('rtmp://h/', 'k')).toThrow(ParseError);
    expect(() => parseRtmpUrl('not a url', 'k')).toThrow(ParseError);
  });
});

describe('publisher phase table', () => {
  for (const from of PUBLISHER_PHASES) {
    it(`${from}: allows exactly ${PUBLISHER_TRANSITIONS[from].join(', ') || 'nothing'}`, () => {
      for (const to of PUBLISHER_PHASES) {
        if (PUBLISHER_TRANSITIONS[from].includes(to)) expect(nextPhase(from, to)).toBe(to);
        else expect(() => nextPhase(from, to)).toThrow(InvalidStateError);
      }
    });
  }
});
