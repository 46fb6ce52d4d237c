import { describe, it, expect } from 'vitest';
import { parseMessage, type SipRequest } from '../../../src/sip/message.js';
import { parseSipfrag, referProgressOf } from '../../../src/sip/refer.js';

function notify(headers: string, body: string): SipRequest {
  const text = `NOTIFY sip:gw@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\n`
    + `Call-ID: x\r\nCSeq: 1 NOTIFY\r\n${headers}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  return parseMessage(Buffer.from(text)) as SipRequest;
}

describe('REFER progress (RFC 3515 NOTIFY, RFC 3420 sipfrag)', () => {
  it('parses the status line of a sipfrag', () => {
    expect(parseSipfrag('SIP/2.0 100 Trying\r\n')).toEqual({ status: 100, reason: 'Trying' });
    expect(parseSipfrag('\r\nSIP/2.0 603 Declined\r\nFrom: x\r\n')).toEqual({ status: 603, reason: 'Declined' });
    expect(parseSipfrag('SIP/2.0 200')).toEqual({ status: 200, reason: '' });
    for (const bad of ['', 'INVITE sip:a SIP/2.0', 'SIP/2.0 99 Low', 'SIP/2.0 700 High', 'SIP/3.0 200 OK']) expect(parseSipfrag(bad)).toBeUndefined();
  });

  it('takes only refer NOTIFYs with a sipfrag body, compact headers included; terminated from Subscription-State', () => {
    expect(referProgressOf(notify('Event: refer\r\nSubscription-State: active;expires=60\r\nContent-Type: message/sipfrag;version=2.0\r\n', 'SIP/2.0 180 Ringing')))
      .toEqual({ status: 180, reason: 'Ringing', terminated: false });
    expect(referProgressOf(notify('o: refer;id=7\r\nSubscription-State: Terminated;reason=noresource\r\nc: message/sipfrag\r\n', 'SIP/2.0 200 OK')))
      .toEqual({ status: 200, reason: 'OK', terminated: true });
    expect(referProgressOf(notify('Event: dialog\r\nContent-Type: message/sipfrag\r\n', 'SIP/2.0 200 OK'))).toBeUndefined();
    expect(referProgressOf(notify('Event: refer\r\nContent-Type: text/plain\r\n', 'SIP/2.0 200 OK'))).toBeUndefined();
    expect(referProgressOf(notify('Content-Type: message/sipfrag\r\n', 'SIP/2.0 200 OK'))).toBeUndefined();
    expect(referProgressOf(notify('Event: referral\r\nContent-Type: message/sipfrag\r\n', 'SIP/2.0 200 OK'))).toBeUndefined();
  });
});
