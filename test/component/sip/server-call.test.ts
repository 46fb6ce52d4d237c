/**
 * SipServerCall, the UAS side of an incoming capture, against an in-test UDP
 * far end: 180 and our 2xx with the SDP answer retransmitted until the ACK;
 * the far end's CANCEL (200, then 487 to the INVITE); its BYE; our BYE; its
 * session timer, re-INVITE and a too-short refresh (422) as for calls we
 * place; and an INVITE nobody takes (no handler: 603).
 */
import { afterEach, describe, it, expect } from 'vitest';
import { silentLogger } from '../../../src/shared/logger.js';
import { bodyText, createResponse, getCSeq, getHeader, getTo, tagOf } from '../../../src/sip/message.js';
import { SipUserAgent, type SipServerCall } from '../../../src/sip/index.js';
import { FarEnd } from '../../helpers/sip-far-end.js';

const log = silentLogger();
const OFFER = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 8\r\n';
const ANSWER = 'v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 8\r\n';
const opened: Array<{ close(): unknown }> = [];

afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
});

async function setup(): Promise<{ ua: SipUserAgent; far: FarEnd; to: { host: string; port: number } }> {
  const far = await FarEnd.open();
  const ua = await SipUserAgent.start({ host: '127.0.0.1', port: 0, publicAddress: null, userAgent: 'TestGW/1.0', log, timers: { t1Ms: 50, t2Ms: 200, t4Ms: 200 } });
  opened.push(far, ua);
  return { ua, far, to: { host: '127.0.0.1', port: ua.localAddress.port } };
}

let n = 0;
function invite(far: FarEnd, ua: SipUserAgent, callId: string): string {
  n++;
  return `INVITE sip:room@127.0.0.1:${ua.localAddress.port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${far.port};branch=z9hG4bKinv${n}\r\nMax-Forwards: 70\r\n`
    + `From: <sip:mcu@127.0.0.1>;tag=mcu${n}\r\nTo: <sip:room@127.0.0.1>\r\nCall-ID: ${callId}\r\nCSeq: 7 INVITE\r\n`
    + `Contact: <sip:mcu@127.0.0.1:${far.port}>\r\nContent-Type: application/sdp\r\nContent-Length: ${OFFER.length}\r\n\r\n${OFFER}`;
}

function inDialog(method: string, res: { headers: { name: string; value: string }[] }, far: FarEnd, ua: SipUserAgent, cseq: number, callId: string): string {
  const to = getHeader(res as never, 'To') ?? '';
  return `${method} sip:room@127.0.0.1:${ua.localAddress.port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${far.port};branch=z9hG4bK${method}${cseq}\r\nMax-Forwards: 70\r\n`
    + `From: <sip:mcu@127.0.0.1>;tag=mcu${n}\r\nTo: ${to}\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} ${method}\r\nContent-Length: 0\r\n\r\n`;
}

describe('SipServerCall', () => {
  it('180, then our 2xx with the answer until the ACK; the far end\'s BYE ends it (remote)', async () => {
    const { ua, far, to } = await setup();
    const calls: SipServerCall[] = [];
    ua.onInvite = (c) => {
      calls.push(c);
      c.ring();
      setTimeout(() => c.accept(ANSWER), 100);
    };
    await far.send(invite(far, ua, 'in-a'), to);
    await far.nextResponse(180);
    const ok = await far.nextResponse(200);
    expect(calls[0]).toMatchObject({ userPart: 'room', offer: OFFER });
    expect(bodyText(ok)).toBe(ANSWER);
    expect(tagOf(getTo(ok))).toBeDefined();
    expect(getHeader(ok, 'Contact')).toMatch(/^<sip:room@127\.0\.0\.1:\d+>$/);
    await far.nextResponse(200); // retransmitted: no ACK yet
    await far.send(inDialog('ACK', ok, far, ua, 7, 'in-a'), to);
    await new Promise((r) => setTimeout(r, 300));
    const count = far.received.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(far.received.length).toBe(count);

    const ended = new Promise<string>((resolve) => calls[0]!.once('ended', (by, why) => resolve(`${by} ${why}`)));
    await far.send(inDialog('BYE', ok, far, ua, 8, 'in-a'), to);
    const byeOk = await far.nextResponse(200);
    expect(getCSeq(byeOk).method).toBe('BYE');
    expect(await ended).toBe('remote BYE');
  });

  it('a CANCEL before the answer: 200 for it, 487 for the INVITE, failed(487); our hangup after an answer sends BYE', async () => {
    const { ua, far, to } = await setup();
    const seen: SipServerCall[] = [];
    ua.onInvite = (c) => seen.push(c);
    const inv = invite(far, ua, 'in-b');
    await far.send(inv, to);
    await new Promise((r) => setTimeout(r, 100));
    const failed = new Promise<number>((resolve) => seen[0]!.once('failed', (s) => resolve(s)));
    await far.send(inv.replace(/^INVITE /, 'CANCEL ').replace('CSeq: 7 INVITE', 'CSeq: 7 CANCEL').replace(/Content-Type[\s\S]*$/, 'Content-Length: 0\r\n\r\n'), to);
    const r1 = await far.nextResponse(200);
    expect(getCSeq(r1).method).toBe('CANCEL');
    const r2 = await far.nextResponse(487);
    expect(getCSeq(r2).method).toBe('INVITE');
    expect(await failed).toBe(487);

    const answered: SipServerCall[] = [];
    ua.onInvite = (c) => {
      answered.push(c);
      c.accept(ANSWER);
    };
    await far.send(invite(far, ua, 'in-c'), to);
    const ok = await far.nextResponse(200);
    await far.send(inDialog('ACK', ok, far, ua, 7, 'in-c'), to);
    const done = answered[0]!.hangup();
    const bye = await far.nextRequest('BYE');
    expect(getHeader(bye, 'From')).toContain(`tag=${tagOf(getTo(ok))}`);
    expect(bye.uri).toBe(`sip:mcu@127.0.0.1:${far.port}`);
    await far.send(createResponse(bye, 200, 'OK'), bye.from);
    await done;
  });

  it('as for calls we place: a session timer asked in the INVITE is taken (Session-Expires, Require: timer), a re-INVITE is answered with our SDP', async () => {
    const { ua, far, to } = await setup();
    const calls: SipServerCall[] = [];
    ua.onInvite = (c) => {
      calls.push(c);
      c.answerSdp = () => ANSWER.replace('o=- 2 2', 'o=- 2 3');
      c.accept(ANSWER);
    };
    await far.send(invite(far, ua, 'in-e').replace('CSeq: 7 INVITE\r\n', 'CSeq: 7 INVITE\r\nSupported: timer\r\nSession-Expires: 1800\r\n'), to);
    const ok = await far.nextResponse(200);
    expect(getHeader(ok, 'Session-Expires')).toBe('1800;refresher=uac');
    expect(getHeader(ok, 'Require')).toBe('timer');
    await far.send(inDialog('ACK', ok, far, ua, 7, 'in-e'), to);
    const reinvites: (string | undefined)[] = [];
    calls[0]!.on('reinvite', (sdp) => reinvites.push(sdp));
    const re = inDialog('INVITE', ok, far, ua, 8, 'in-e').replace('Content-Length: 0\r\n\r\n', `Contact: <sip:mcu@127.0.0.1:${far.port}>\r\nContent-Type: application/sdp\r\nContent-Length: ${OFFER.length}\r\n\r\n${OFFER}`);
    await far.send(re, to);
    const reOk = await far.nextResponse(200);
    expect(getCSeq(reOk)).toEqual({ seq: 8, method: 'INVITE' });
    expect(bodyText(reOk)).toContain('o=- 2 3');
    expect(reinvites).toEqual([OFFER]);
    await far.send(inDialog('ACK', ok, far, ua, 8, 'in-e'), to);
    // A refresh asking for less than our Min-SE: 422.
    await far.send(inDialog('UPDATE', ok, far, ua, 9, 'in-e').replace('Content-Length: 0', 'Session-Expires: 30\r\nContent-Length: 0'), to);
    const small = await far.nextResponse(422);
    expect(getHeader(small, 'Min-SE')).toBe('90');
  });

  it('without a handler an INVITE is declined (603)', async () => {
    const { ua, far, to } = await setup();
    await far.send(invite(far, ua, 'in-d'), to);
    await far.nextResponse(603);
  });
});
