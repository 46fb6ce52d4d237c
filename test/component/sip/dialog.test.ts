import { describe, it, expect } from 'vitest';
import { InvalidStateError } from '../../../src/shared/errors.js';
import { Dialog, DIALOG_TRANSITIONS, type DialogState } from '../../../src/sip/dialog.js';
import { createResponse, getCSeq, getHeaders, parseMessage, type SipRequest, type SipResponse } from '../../../src/sip/message.js';

const INVITE = parseMessage(Buffer.from([
  'INVITE sip:bob@biloxi.example.com SIP/2.0',
  'Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa',
  'From: "A" <sip:alice@atlanta.example.com>;tag=ltag',
  'To: <sip:bob@biloxi.example.com>',
  'Call-ID: dlg-1',
  'CSeq: 10 INVITE',
  '', ''].join('\r\n'))) as SipRequest;

function answer(status: number, rr: string[], contact = '<sip:bob@192.0.2.4:5080;transport=udp>', tag = 'rtag'): SipResponse {
  return createResponse(INVITE, status, 'X', {
    toTag: tag,
    headers: [...rr.map((value) => ({ name: 'Record-Route', value })), { name: 'Contact', value: contact }],
  });
}

describe('Dialog (RFC 3261 §12)', () => {
  it('builds a confirmed dialog from a 2xx: reversed Record-Route, Contact target, tags, CSeq', () => {
    const d = Dialog.fromUacResponse(INVITE, answer(200, ['<sip:p2.example.com;lr>', '<sip:p1.example.com;lr>']));
    expect(d.state).toBe('confirmed');
    expect(d.routeSet).toEqual(['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    expect(d.remoteTarget).toBe('sip:bob@192.0.2.4:5080;transport=udp');
    expect([d.localTag, d.remoteTag, d.callId]).toEqual(['ltag', 'rtag', 'dlg-1']);
    const bye = d.buildRequest('BYE', { via: 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKb' });
    expect(bye.uri).toBe('sip:bob@192.0.2.4:5080;transport=udp');
    expect(getHeaders(bye, 'Route')).toEqual(['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    expect(getCSeq(bye)).toEqual({ seq: 11, method: 'BYE' });
    expect(d.destination()).toEqual({ host: 'p1.example.com', port: 5060 });
    const ack = d.buildRequest('ACK', { via: 'v', cseq: 10 });
    expect(getCSeq(ack)).toEqual({ seq: 10, method: 'ACK' });
    expect(d.localSeq).toBe(11);
  });

  it('sends straight to the remote target without a route set', () => {
    const d = Dialog.fromUacResponse(INVITE, answer(200, []));
    expect(d.destination()).toEqual({ host: '192.0.2.4', port: 5080 });
    expect(getHeaders(d.buildRequest('INFO', { via: 'v' }), 'Route')).toEqual([]);
  });

  it('strict routing puts the first route in the Request-URI and the target last (§12.2.1.1)', () => {
    const d = Dialog.fromUacResponse(INVITE, answer(200, ['<sip:p2.example.com>', '<sip:p1.example.com>']));
    const bye = d.buildRequest('BYE', { via: 'v' });
    expect(bye.uri).toBe('sip:p1.example.com');
    expect(getHeaders(bye, 'Route')).toEqual(['<sip:p2.example.com>', '<sip:bob@192.0.2.4:5080;transport=udp>']);
  });

  it('an early dialog is confirmed by the 2xx, whose route set and target win', () => {
    const d = Dialog.fromUacResponse(INVITE, answer(180, ['<sip:old;lr>'], '<sip:early@192.0.2.9>'));
    expect(d.state).toBe('early');
    d.confirm(answer(200, ['<sip:new.example.com;lr>']));
    expect(d.state).toBe('confirmed');
    expect(d.routeSet).toEqual(['<sip:new.example.com;lr>']);
    expect(d.remoteTarget).toBe('sip:bob@192.0.2.4:5080;transport=udp');
  });

  it('matches far-end requests and refuses a lower CSeq (§12.2.2)', () => {
    const d = Dialog.fromUacResponse(INVITE, answer(200, []));
    const req = (cseq: number, fromTag = 'rtag'): SipRequest => parseMessage(Buffer.from([
      'BYE sip:alice@10.0.0.1 SIP/2.0', 'Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKx', `From: <sip:bob@biloxi.example.com>;tag=${fromTag}`,
      'To: <sip:alice@atlanta.example.com>;tag=ltag', 'Call-ID: dlg-1', `CSeq: ${cseq} BYE`, '', ''].join('\r\n'))) as SipRequest;
    expect(d.matchesRequest(req(5))).toBe(true);
    expect(d.matchesRequest(req(5, 'other'))).toBe(false);
    expect(d.acceptRemoteCSeq(req(5))).toBe(true);
    expect(d.acceptRemoteCSeq(req(6))).toBe(true);
    expect(d.acceptRemoteCSeq(req(4))).toBe(false);
  });

  it('refuses responses that cannot make a dialog', () => {
    expect(() => Dialog.fromUacResponse(INVITE, answer(486, []))).toThrow(InvalidStateError);
    expect(() => Dialog.fromUacResponse(INVITE, createResponse(INVITE, 200, 'OK'))).toThrow();
  });

  describe('transition table', () => {
    const all: DialogState[] = ['early', 'confirmed', 'terminated'];
    for (const from of all) {
      it(`from ${from}`, () => {
        for (const to of all) {
          const d = Dialog.fromUacResponse(INVITE, answer(180, []));
          if (from !== 'early') d.transition(from);
          const allowed = from === to || DIALOG_TRANSITIONS[from].includes(to);
          if (allowed) expect(() => d.transition(to)).not.toThrow();
          else expect(() => d.transition(to)).toThrow(InvalidStateError);
        }
      });
    }
  });
});
