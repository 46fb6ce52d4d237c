import { afterEach, describe, it, expect } from 'vitest';
import { silentLogger } from '../../../src/shared/logger.js';
import { computeDigest, parseAuthParams, parseChallenge } from '../../../src/sip/digest.js';
import {
  bodyText, createResponse, getCallId, getCSeq, getFrom, getHeader, getHeaders, getTopVia, tagOf, type SipRequest,
} from '../../../src/sip/message.js';
import { SipUserAgent, type SipClientCall, type InviteOptions } from '../../../src/sip/index.js';
import { FarEnd } from '../../helpers/sip-far-end.js';

const log = silentLogger();
const SDP_OFFER = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 8\r\n';
const SDP_ANSWER = 'v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 8\r\n';
const opened: Array<{ close(): unknown }> = [];

afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
});

async function setup(t1Ms = 50): Promise<{ ua: SipUserAgent; far: FarEnd }> {
  const far = await FarEnd.open();
  const ua = await SipUserAgent.start({ host: '127.0.0.1', port: 0, publicAddress: null, userAgent: 'TestGW/1.0', log, timers: { t1Ms, t2Ms: 200, t4Ms: 200 } });
  opened.push(far, ua);
  return { ua, far };
}

let seq = 0;
function inviteOpts(far: FarEnd, extra: Partial<InviteOptions> = {}): InviteOptions {
  return {
    callId: `call-${++seq}-${Date.now()}`,
    requestUri: `sip:10001@127.0.0.1:${far.port};x-room=7`,
    from: { user: '10009', host: 'example.com', displayName: 'Capture' },
    destination: far.address,
    sdpOffer: SDP_OFFER,
    contactParams: ';+sip.instance="<urn:uuid:1>"',
    ringTimeoutMs: 10_000,
    log,
    ...extra,
  };
}

/** Records every event of a call in order. */
function record(call: SipClientCall): string[] {
  const events: string[] = [];
  call.on('progress', (s) => events.push(`progress ${s}`));
  call.on('established', (s, sdp) => events.push(`established ${s} ${sdp === SDP_ANSWER ? 'sdp' : 'other'}`));
  call.on('failed', (s, r) => events.push(`failed ${s} ${r}`));
  call.on('ended', (by, r) => events.push(`ended ${by} ${r}`));
  call.on('info', (ct, b) => events.push(`info ${ct} ${b}`));
  call.on('reinvite', (sdp) => events.push(`reinvite ${sdp === undefined ? 'none' : 'sdp'}`));
  return events;
}

function until(call: SipClientCall, ev: 'established' | 'failed' | 'ended'): Promise<void> {
  return new Promise((resolve) => call.once(ev, () => resolve()));
}

/** A request from the far end inside the dialog of `invite` (far tag `farTag`). */
function farRequest(method: string, invite: SipRequest, farTag: string, cseq: number, far: FarEnd, body?: string): string {
  const from = getHeader(invite, 'From') ?? '';
  const to = getHeader(invite, 'To') ?? '';
  const contact = /<([^>]+)>/.exec(getHeader(invite, 'Contact') ?? '')?.[1] ?? '';
  return `${method} ${contact} SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:${far.port};branch=z9hG4bKfar${method}${cseq}\nMax-Forwards: 70\n`
    + `From: ${to};tag=${farTag}\nTo: ${from}\nCall-ID: ${getCallId(invite)}\nCSeq: ${cseq} ${method}\n`
    + `Contact: <sip:bob@127.0.0.1:${far.port}>\n${body === undefined ? '' : 'Content-Type: application/sdp\n'}Content-Length: ${body === undefined ? 0 : Buffer.byteLength(body)}\n\n${body ?? ''}`;
}

/** 200 OK for the INVITE with SDP, a Contact and a Record-Route pointing at the far end. */
function ok200(invite: SipRequest, far: FarEnd, tag = 'far1') {
  return createResponse(invite, 200, 'OK', {
    toTag: tag,
    headers: [
      { name: 'Record-Route', value: `<sip:127.0.0.1:${far.port};lr>` },
      { name: 'Contact', value: `<sip:bob@127.0.0.1:${far.port}>` },
    ],
    body: SDP_ANSWER,
    contentType: 'application/sdp',
  });
}

describe('SipUserAgent / SipClientCall against an in-test UDP far end', () => {
  it('INVITE → 100/180 → 200 → ACK; re-ACKs a retransmitted 200; hangup sends BYE', async () => {
    const { ua, far } = await setup();
    const call = ua.invite(inviteOpts(far));
    const events = record(call);
    call.start();
    const invite = await far.nextRequest('INVITE');
    // the INVITE as the spec describes it
    expect(invite.uri).toBe(`sip:10001@127.0.0.1:${far.port};x-room=7`);
    const via = getTopVia(invite);
    expect(via.params.has('rport')).toBe(true);
    expect(via.params.get('branch')).toMatch(/^z9hG4bK/);
    expect(`${via.host}:${via.port}`).toBe(`127.0.0.1:${ua.localAddress.port}`);
    expect(getHeader(invite, 'Max-Forwards')).toBe('70');
    expect(getHeader(invite, 'From')).toMatch(/^"Capture" <sip:10009@example\.com>;tag=\w+$/);
    expect(getHeader(invite, 'To')).toBe(`<sip:10001@127.0.0.1:${far.port}>`);
    expect(getCallId(invite)).toBe(call.callId);
    expect(getHeader(invite, 'Contact')).toBe(`<sip:10009@127.0.0.1:${ua.localAddress.port}>;+sip.instance="<urn:uuid:1>"`);
    expect(getHeaders(invite, 'Allow')).toContain('INFO');
    expect(getHeader(invite, 'User-Agent')).toBe('TestGW/1.0');
    expect(getHeader(invite, 'Content-Type')).toBe('application/sdp');
    expect(bodyText(invite)).toBe(SDP_OFFER);
    expect(call.state).toBe('calling');

    await far.send(createResponse(invite, 100, 'Trying'), invite.from);
    await far.send(createResponse(invite, 180, 'Ringing', { toTag: 'far1', headers: [{ name: 'Contact', value: `<sip:bob@127.0.0.1:${far.port}>` }] }), invite.from);
    const ok = ok200(invite, far);
    const established = until(call, 'established');
    await far.send(ok, invite.from);
    await established;
    expect(call.state).toBe('confirmed');
    expect(call.lastStatus).toBe(200);
    const ack = await far.nextRequest('ACK');
    expect(ack.uri).toBe(`sip:bob@127.0.0.1:${far.port}`);
    expect(getCSeq(ack)).toEqual({ seq: getCSeq(invite).seq, method: 'ACK' });
    expect(getHeader(ack, 'Route')).toBe(`<sip:127.0.0.1:${far.port};lr>`);
    expect(getTopVia(ack).params.get('branch')).not.toBe(via.params.get('branch'));
    await far.send(ok, invite.from); // 200 retransmission → ACK again
    const ack2 = await far.nextRequest('ACK');
    expect(getCSeq(ack2).seq).toBe(getCSeq(invite).seq);

    const done = call.hangup();
    const bye = await far.nextRequest('BYE');
    expect(getCSeq(bye).seq).toBe(getCSeq(invite).seq + 1);
    expect(tagOf(getFrom(bye))).toBe(tagOf(getFrom(invite)));
    await far.send(createResponse(bye, 200, 'OK'), bye.from);
    await done;
    expect(call.state).toBe('terminated');
    expect(events).toEqual(['progress 100', 'progress 180', 'established 200 sdp', 'ended local BYE']);
    expect(ua.callCount).toBe(0);
  });

  it('486 → failed with that status (the transaction ACKs)', async () => {
    const { ua, far } = await setup();
    const call = ua.invite(inviteOpts(far));
    const events = record(call);
    call.start();
    const invite = await far.nextRequest('INVITE');
    const failed = until(call, 'failed');
    await far.send(createResponse(invite, 486, 'Busy Here', { toTag: 'b' }), invite.from);
    await failed;
    await far.nextRequest('ACK');
    expect(events).toEqual(['failed 486 Busy Here']);
    expect(call.lastStatus).toBe(486);
  });

  it('401 → INVITE again with digest credentials; a second challenge fails the call', async () => {
    const { ua, far } = await setup();
    const call = ua.invite(inviteOpts(far, { auth: { username: 'alice', password: 'secret' } }));
    const events = record(call);
    call.start();
    const first = await far.nextRequest('INVITE');
    await far.send(createResponse(first, 401, 'Unauthorized', {
      toTag: 'c1', headers: [{ name: 'WWW-Authenticate', value: 'Digest realm="example.com", nonce="n0nce", qop="auth", algorithm=MD5, opaque="op"' }],
    }), first.from);
    await far.nextRequest('ACK');
    const second = await far.nextRequest('INVITE');
    expect(getCSeq(second).seq).toBe(getCSeq(first).seq + 1);
    expect(getTopVia(second).params.get('branch')).not.toBe(getTopVia(first).params.get('branch'));
    expect(tagOf(getFrom(second))).toBe(tagOf(getFrom(first)));
    expect(getCallId(second)).toBe(getCallId(first));
    const auth = getHeader(second, 'Authorization') ?? '';
    const p = parseAuthParams(auth.replace(/^Digest /, ''));
    const expected = computeDigest({
      challenge: parseChallenge('Digest realm="example.com", nonce="n0nce", qop="auth", algorithm=MD5, opaque="op"'),
      username: 'alice', password: 'secret', method: 'INVITE', uri: second.uri, cnonce: p.get('cnonce') ?? '', nc: 1,
    });
    expect(p.get('response')).toBe(expected.response);
    expect(p.get('uri')).toBe(second.uri);
    expect(p.get('opaque')).toBe('op');
    // the same realm challenges again: wrong password → failed
    const failed = until(call, 'failed');
    await far.send(createResponse(second, 401, 'Unauthorized', {
      toTag: 'c2', headers: [{ name: 'WWW-Authenticate', value: 'Digest realm="example.com", nonce="other", qop="auth"' }],
    }), second.from);
    await failed;
    expect(events).toEqual(['failed 401 Unauthorized']);
  });

  it('407 → Proxy-Authorization → 200 established', async () => {
    const { ua, far } = await setup();
    const call = ua.invite(inviteOpts(far, { auth: { username: 'alice', password: 'secret' } }));
    call.start();
    const first = await far.nextRequest('INVITE');
    await far.send(createResponse(first, 407, 'Proxy Authentication Required', {
      toTag: 'p', headers: [{ name: 'Proxy-Authenticate', value: 'Digest realm="proxy", nonce="pn", algorithm=SHA-256, qop="auth"' }],
    }), first.from);
    const second = await far.nextRequest('INVITE');
    expect(getHeader(second, 'Proxy-Authorization')).toMatch(/^Digest username="alice", realm="proxy".*algorithm=SHA-256/);
    const established = until(call, 'established');
    await far.send(ok200(second, far), second.from);
    await established;
    const ack = await far.nextRequest('ACK');
    expect(getHeader(ack, 'Proxy-Authorization')).toBe(getHeader(second, 'Proxy-Authorization'));
  });

  it('REFER both ways: ours carries Refer-To, Referred-By and Contact; the NOTIFYs give referProgress; a far end\'s REFER gets sip.incomingReferStatus', async () => {
    const { ua, far } = await setup();
    const call = ua.invite(inviteOpts(far, { incomingReferStatus: 403 }));
    const progress: string[] = [];
    call.on('referProgress', (p) => progress.push(`${p.status} ${p.reason} ${p.terminated}`));
    call.start();
    const invite = await far.nextRequest('INVITE');
    const established = until(call, 'established');
    await far.send(ok200(invite, far), invite.from);
    await established;
    await far.nextRequest('ACK');

    const status = call.requests.refer('sip:reception@example.com', 'sip:10009@example.com');
    const refer = await far.nextRequest('REFER');
    expect(getHeader(refer, 'Refer-To')).toBe('<sip:reception@example.com>');
    expect(getHeader(refer, 'Referred-By')).toBe('<sip:10009@example.com>');
    expect(getHeader(refer, 'Contact')).toContain('sip:10009@127.0.0.1');
    await far.send(createResponse(refer, 202, 'Accepted'), refer.from);
    expect((await status).status).toBe(202);

    const to = { host: '127.0.0.1', port: ua.localAddress.port };
    const notify = (cseq: number, event: string, state: string, frag: string): string => farRequest('NOTIFY', invite, 'far1', cseq, far)
      .replace('Content-Length: 0\n\n', `Event: ${event}\nSubscription-State: ${state}\nContent-Type: message/sipfrag;version=2.0\nContent-Length: ${frag.length}\n\n${frag}`);
    await far.send(notify(1, 'refer', 'active;expires=60', 'SIP/2.0 180 Ringing\r\n'), to);
    await far.nextResponse(200);
    await far.send(notify(2, 'presence', 'active', 'SIP/2.0 200 OK\r\n'), to); // another package: answered, not progress
    await far.nextResponse(200);
    await far.send(notify(3, 'refer', 'active', 'not a status line'), to); // garbage sipfrag: answered, ignored
    await far.nextResponse(200);
    await far.send(notify(4, 'refer;id=1', 'terminated;reason=noresource', 'SIP/2.0 200 OK\r\n'), to);
    await far.nextResponse(200);
    expect(progress).toEqual(['180 Ringing false', '200 OK true']);

    await far.send(farRequest('REFER', invite, 'far1', 5, far), to);
    const refused = await far.nextResponse(403);
    expect(refused.reason).toBe('Forbidden');
    void call.hangup();
    const bye = await far.nextRequest('BYE');
    await far.send(createResponse(bye, 200, 'OK'), bye.from);
  });

  it('far-end BYE → 200 → ended(remote); in-dialog INFO, OPTIONS, unknown methods, re-INVITE, sendInfo', async () => {
    const { ua, far } = await setup();
    const call = ua.invite(inviteOpts(far));
    const events = record(call);
    call.answerSdp = (offer) => (offer === undefined ? SDP_OFFER : 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n');
    call.start();
    const invite = await far.nextRequest('INVITE');
    const established = until(call, 'established');
    await far.send(ok200(invite, far), invite.from);
    await established;
    await far.nextRequest('ACK');

    const to = { host: '127.0.0.1', port: ua.localAddress.port };
    await far.send(farRequest('INFO', invite, 'far1', 1, far).replace('Content-Length: 0\n\n', 'Content-Type: application/dtmf-relay\nContent-Length: 8\n\nSignal=5'), to);
    await far.nextResponse(200);
    await far.send(farRequest('OPTIONS', invite, 'far1', 2, far), to);
    const opt = await far.nextResponse(200);
    expect(getHeaders(opt, 'Allow')).toContain('UPDATE');
    await far.send(farRequest('FOO', invite, 'far1', 3, far), to);
    await far.nextResponse(501);
    await far.send(farRequest('REFER', invite, 'far1', 4, far), to);
    await far.nextResponse(603); // a transfer is declined, never 405: REFER is understood
    await far.send(farRequest('INFO', invite, 'far1', 1, far).replace('branch=z9hG4bKfarINFO1', 'branch=z9hG4bKlow'), to);
    await far.nextResponse(500); // CSeq went backwards (§12.2.2)

    // re-INVITE: answered 200 with the hook's SDP, retransmitted until the ACK
    await far.send(farRequest('INVITE', invite, 'far1', 5, far, SDP_ANSWER), to);
    const r1 = await far.nextResponse(200);
    expect(getCSeq(r1)).toEqual({ seq: 5, method: 'INVITE' });
    expect(bodyText(r1)).toBe('v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n');
    expect(getHeader(r1, 'Contact')).toContain('sip:10009@127.0.0.1');
    await far.nextResponse(200); // retransmitted 2xx (no ACK yet)
    await far.send(farRequest('ACK', invite, 'far1', 5, far).replace('branch=z9hG4bKfarACK5', 'branch=z9hG4bKack5'), to);
    await new Promise((r) => setTimeout(r, 150));
    const count = far.received.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(far.received.length).toBe(count);

    // our INFO
    const infoStatus = call.sendInfo('application/dtmf', '5');
    const info = await far.nextRequest('INFO');
    expect(getHeader(info, 'Content-Type')).toBe('application/dtmf');
    expect(bodyText(info)).toBe('5');
    await far.send(createResponse(info, 200, 'OK'), info.from);
    expect(await infoStatus).toBe(200);

    const ended = until(call, 'ended');
    await far.send(farRequest('BYE', invite, 'far1', 6, far), to);
    const byeOk = await far.nextResponse(200);
    expect(getCSeq(byeOk).method).toBe('BYE');
    await ended;
    expect(events).toEqual(['established 200 sdp', 'info application/dtmf-relay Signal=5', 'reinvite sdp', 'ended remote BYE']);
    // a request for the finished call gets 481
    await far.send(farRequest('INFO', invite, 'far1', 7, far), to);
    await far.nextResponse(481);
  });

  it('ring timeout → CANCEL → 487 → failed(408, Request Timeout)', async () => {
    const { ua, far } = await setup();
    const call = ua.invite(inviteOpts(far, { ringTimeoutMs: 200 }));
    const events = record(call);
    call.start();
    const invite = await far.nextRequest('INVITE');
    await far.send(createResponse(invite, 180, 'Ringing', { toTag: 'r' }), invite.from);
    const cancel = await far.nextRequest('CANCEL');
    expect(call.state).toBe('terminating');
    expect(getTopVia(cancel).params.get('branch')).toBe(getTopVia(invite).params.get('branch'));
    expect(getCSeq(cancel)).toEqual({ seq: getCSeq(invite).seq, method: 'CANCEL' });
    expect(cancel.uri).toBe(invite.uri);
    expect(getHeader(cancel, 'To')).toBe(getHeader(invite, 'To'));
    await far.send(createResponse(cancel, 200, 'OK', { toTag: 'r' }), cancel.from);
    const failed = until(call, 'failed');
    await far.send(createResponse(invite, 487, 'Request Terminated', { toTag: 'r' }), invite.from);
    await failed;
    await far.nextRequest('ACK');
    expect(events).toEqual(['progress 180', 'failed 408 Request Timeout']);
  });

  it('hangup while ringing cancels; a 200 that crosses the CANCEL gets ACK then BYE', async () => {
    const { ua, far } = await setup();
    const call = ua.invite(inviteOpts(far));
    const events = record(call);
    call.start();
    const invite = await far.nextRequest('INVITE');
    await far.send(createResponse(invite, 183, 'Session Progress', { toTag: 'x', body: SDP_ANSWER, contentType: 'application/sdp' }), invite.from);
    await new Promise((r) => setTimeout(r, 50));
    expect(call.state).toBe('early');
    const done = call.hangup();
    const cancel = await far.nextRequest('CANCEL');
    await far.send(createResponse(cancel, 200, 'OK'), cancel.from);
    await far.send(ok200(invite, far, 'x'), invite.from);
    await far.nextRequest('ACK');
    const bye = await far.nextRequest('BYE');
    await far.send(createResponse(bye, 200, 'OK'), bye.from);
    await done;
    expect(events).toEqual(['progress 183', 'failed 487 Request Terminated']);
  });

  it('no answer at all → Timer B → failed(408)', async () => {
    const { ua, far } = await setup(10);
    const call = ua.invite(inviteOpts(far));
    const events = record(call);
    const failed = until(call, 'failed');
    call.start();
    await failed;
    expect(events).toEqual(['failed 408 Request Timeout']);
    expect(far.received.length).toBeGreaterThan(3);
  });

  it('answers 400 to a broken request, 200 to out-of-dialog OPTIONS, 481 to an unknown BYE, and ignores keep-alives', async () => {
    const { ua, far } = await setup();
    const to = { host: '127.0.0.1', port: ua.localAddress.port };
    await far.send('\r\n\r\n', to);
    const head = `Via: SIP/2.0/UDP 127.0.0.1:${far.port};branch=z9hG4bKq1\nFrom: <sip:x@y>;tag=1\nTo: <sip:gw@127.0.0.1>\nCall-ID: nope\n`;
    await far.send(`OPTIONS sip:gw@127.0.0.1 SIP/2.0\n${head}CSeq: 1 OPTIONS\nContent-Length: 99\n\n`, to);
    await far.nextResponse(400);
    await far.send(`OPTIONS sip:gw@127.0.0.1 SIP/2.0\n${head.replace('q1', 'q2')}CSeq: 2 OPTIONS\nContent-Length: 0\n\n`, to);
    const ok = await far.nextResponse(200);
    expect(getHeader(ok, 'Server')).toBe('TestGW/1.0');
    await far.send(`BYE sip:gw@127.0.0.1 SIP/2.0\n${head.replace('q1', 'q3')}CSeq: 3 BYE\nContent-Length: 0\n\n`, to);
    await far.nextResponse(481);
    expect(far.received).toHaveLength(3);
  });

  it('survives random and mutated datagrams on its socket', async () => {
    const { ua, far } = await setup();
    const to = { host: '127.0.0.1', port: ua.localAddress.port };
    const valid = `OPTIONS sip:gw@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:${far.port};rport;branch=z9hG4bKz\nFrom: <sip:x@y>;tag=1\nTo: <sip:gw@127.0.0.1>\nCall-ID: fz\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n`;
    const sock = (await import('node:dgram')).createSocket('udp4');
    let state = 12345;
    const rnd = (): number => (state = (state * 1103515245 + 12345) & 0x7fffffff);
    for (let i = 0; i < 300; i++) {
      const b = Buffer.from(valid.replace(/\n/g, '\r\n'));
      if (i % 2 === 0) for (let k = 0; k < 1 + (rnd() % 6); k++) b[rnd() % b.length] = rnd() % 256;
      const data = i % 3 === 0 ? Buffer.from(Array.from({ length: rnd() % 300 }, () => rnd() % 256)) : b;
      await new Promise<void>((resolve) => sock.send(data, to.port, to.host, () => resolve()));
    }
    sock.close();
    await new Promise((r) => setTimeout(r, 300)); // let the kernel queue drain: datagrams beyond its buffer are dropped
    await far.send(valid.replace('branch=z9hG4bKz', 'branch=z9hG4bKfinal'), to);
    await far.nextResponse(200);
  });

  it('an ended call lets go of its listeners and answerSdp hook, yet still re-ACKs a late 200 (Timer M)', async () => {
    const { ua, far } = await setup();
    const call = ua.invite(inviteOpts(far));
    const events = record(call);
    const tuHook = (): string => 'tu answer';
    call.answerSdp = tuHook;
    call.start();
    const invite = await far.nextRequest('INVITE');
    const ok = ok200(invite, far);
    const established = until(call, 'established');
    await far.send(ok, invite.from);
    await established;
    await far.nextRequest('ACK');
    const done = call.hangup();
    const bye = await far.nextRequest('BYE');
    await far.send(createResponse(bye, 200, 'OK'), bye.from);
    await done;
    expect(events).toEqual(['established 200 sdp', 'ended local BYE']);
    // The INVITE transaction still holds the call (RFC 6026 §7.2), but no longer what the TU hung on it.
    for (const ev of ['progress', 'established', 'failed', 'ended', 'info', 'reinvite'] as const) expect(call.listenerCount(ev)).toBe(0);
    expect(call.answerSdp).not.toBe(tuHook);
    await far.send(ok, invite.from); // a 200 retransmission inside Timer M → ACK again
    const ack = await far.nextRequest('ACK');
    expect(getCSeq(ack).seq).toBe(getCSeq(invite).seq);
  });

  it('close() ends live calls and is idempotent', async () => {
    const { ua, far } = await setup();
    const call = ua.invite(inviteOpts(far));
    const events = record(call);
    call.start();
    await far.nextRequest('INVITE');
    await Promise.all([ua.close(), ua.close()]);
    expect(events).toEqual(['failed 503 User agent closed']);
    expect(() => ua.invite(inviteOpts(far))).toThrow();
  });
});
