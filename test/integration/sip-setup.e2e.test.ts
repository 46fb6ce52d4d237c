/**
 * Call setup on the wire, against SIPp far ends (and, for what SIPp cannot
 * script — dropping a request, forking — a raw UDP far end in the test):
 * ring timeout and /call/terminate → CANCEL, the 200-after-CANCEL race,
 * one 3xx followed, the INVITE's request line and headers, loose routing
 * with Record-Route, in-dialog OPTIONS / unknown methods, a digest challenge
 * on our BYE, UDP retransmission of a lost INVITE, re-ACK of a retransmitted
 * 2xx and ACK + BYE for a forked 2xx.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import dgram from 'node:dgram';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { SippFarEnds, type SippProcess } from '../helpers/sipp.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { assertNoChildProcesses } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';
import { createResponse, getCSeq, getHeader, getHeaders, getTopVia, parseMessage, serializeMessage, type SipRequest } from '../../src/sip/message.js';

let gw: TestGateway;
let hooks: WebhookReceiver;
const fars = new SippFarEnds();

function uas(scenario: string, extra: Parameters<SippFarEnds['uas']>[1] = {}): Promise<SippProcess> {
  return fars.uas(scenario, extra);
}

function statuses(callId: string): string[] {
  return hooks.events.filter((e) => e.body?.callId === callId).map((e) => e.body.status as string)
    .filter((s, i, a) => i === 0 || a[i - 1] !== s);
}

const final = (callId: string, status: string, ms = 10_000): Promise<{ body: any; at: number }> =>
  hooks.waitFor((e) => e.body?.callId === callId && e.body.status === status, ms);

const received = (far: SippProcess, method: string): string[] =>
  far.sipMessages().filter((m) => m.direction === 'received' && m.method === method && m.status === null).map((m) => m.text);

beforeAll(async () => {
  hooks = await startWebhookReceiver();
  gw = await startTestGateway({ webhook: { apps: { callApp: hooks.baseUrl } }, sip: { ringTimeoutMs: 2000, authRealms: ['sipp.test'], minSessionExpiresS: 1 } });
});

afterAll(async () => {
  await fars.closeAll();
  await gw?.close();
  await hooks?.close();
  await assertNoChildProcesses();
});

describe('ringing, CANCEL and redirects', () => {
  it('ring timeout → CANCEL → 487 ACKed → FAILED / FAILED_BY_REQUEST_TIMEOUT', async () => {
    const far = await uas('uas-ring-cancel.xml');
    const callId = 'sip-ringto-0001';
    const t0 = Date.now();
    await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}` });
    const failed = await final(callId, 'FAILED');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
    expect(failed.body).toMatchObject({ info: 'FAILED_BY_REQUEST_TIMEOUT', sipStatus: 408 });
    expect(statuses(callId)).toEqual(['PENDING', 'TRYING', 'RING', 'FAILED']);
    expect(await far.exited, far.errors()).toBe(0);
    const invite = received(far, 'INVITE')[0] ?? '';
    const cancel = received(far, 'CANCEL')[0] ?? '';
    // §9.1: the CANCEL repeats the INVITE's Request-URI, top Via (branch), Call-ID, From, To and CSeq number.
    for (const re of [/^Via: .*$/m, /^Call-ID: .*$/m, /^From: .*$/m, /^To: .*$/m]) expect(re.exec(cancel)?.[0]).toBe(re.exec(invite)?.[0]);
    expect(cancel.split('\n')[0]).toBe((invite.split('\n')[0] ?? '').replace('INVITE', 'CANCEL'));
    expect(/^CSeq: (\d+)/m.exec(cancel)?.[1]).toBe(/^CSeq: (\d+)/m.exec(invite)?.[1]);
    expect(received(far, 'ACK')).toHaveLength(1);
  });

  it('/call/terminate while ringing → CANCEL → FINISH', async () => {
    const far = await uas('uas-ring-cancel.xml');
    const callId = 'sip-cancel-0001';
    await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}` });
    await final(callId, 'RING');
    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await final(callId, 'FINISH');
    expect(await far.exited, far.errors()).toBe(0);
    expect(far.logs()).toMatch(/CANCEL received \d+ CANCEL/);
    expect(statuses(callId)).toEqual(['PENDING', 'TRYING', 'RING', 'FINISH']);
  });

  it('a 200 that crosses our CANCEL is ACKed, then hung up with BYE', async () => {
    const far = await uas('uas-ring-cancel.xml', { vars: { race: '1' } });
    const callId = 'sip-race-0001';
    await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}` });
    await final(callId, 'RING');
    await gw.rest('/call/terminate', { callId });
    expect(await far.exited, far.errors()).toBe(0);
    expect(far.logs()).toMatch(/ACK after the race/);
    expect(far.logs()).toMatch(/BYE after the race/);
    expect(statuses(callId)).toEqual(['PENDING', 'TRYING', 'RING', 'FINISH']);
  });

  it('302 → ACK, then one new INVITE to the Contact, answered → ESTABLISHED', async () => {
    const target = await uas('uas-answer.xml');
    const far = await uas('uas-redirect.xml', { vars: { target_port: String(target.sipPort) } });
    const callId = 'sip-3xx-0001';
    await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}` });
    await final(callId, 'ESTABLISHED');
    expect(await far.exited, far.errors()).toBe(0);
    const invite = received(target, 'INVITE')[0] ?? '';
    expect(invite.split('\n')[0]).toMatch(/^INVITE sip:moved@127\.0\.0\.1:\d+ SIP\/2\.0/);
    // The redirected INVITE keeps the call's SIP Call-ID: 128 random bits, not the REST callId.
    const first = received(far, 'INVITE')[0] ?? '';
    const sipCallId = /^Call-ID: ([A-Za-z0-9_-]{16})\r?$/m.exec(first)?.[1];
    expect(sipCallId).toBeDefined();
    expect(invite).toMatch(new RegExp(`^Call-ID: ${sipCallId}`, 'm'));
    expect(invite).not.toContain(callId);
    // Hang up once the target streams (its scenario then waits for BYE): SIPp counts a BYE that
    // lands while the call still runs the steps after the ACK as unexpected, and fails.
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE', 10_000);
    await gw.rest('/call/terminate', { callId });
    await final(callId, 'FINISH');
    expect(await target.exited, target.errors()).toBe(0);
  });
});

describe('the INVITE and the dialog on the wire', () => {
  it('request line and headers from the startup fields, Route set on ACK/BYE, OPTIONS / unknown methods, a 401 on our BYE', async () => {
    const far = await uas('uas-indialog.xml', { authUser: '10009', authPassword: 'bye-secret' });
    const callId = 'sip-wire-0001';
    const r = await gw.rest('/call/startup', {
      callId, callee: '10001', sipDomain: 'pbx.test', sipOutboundProxy: '127.0.0.1', sipPort: far.sipPort,
      sipLogin: '10009', sipPassword: 'bye-secret', visibleName: 'Capture Room',
      inviteParameters: { 'x-room': '7' }, sipContactParams: ';+sip.instance="<urn:uuid:00000000-0000-0000-0000-000000000001>"',
      sipSDP: ['b=AS:3000'], hasVideo: false, stripCodecs: 'PCMU, g722',
    });
    expect(r.status).toBe(200);
    await final(callId, 'ESTABLISHED');
    const invite = received(far, 'INVITE')[0] ?? '';
    // sipDomain names the Request-URI and From; sipOutboundProxy:sipPort is where it was sent (it reached SIPp).
    expect(invite.split('\n')[0]?.trim()).toBe('INVITE sip:10001@pbx.test;x-room=7 SIP/2.0');
    expect(invite).toMatch(/^From: "Capture Room" <sip:10009@pbx\.test>;tag=\S+$/m);
    expect(invite).toMatch(/^To: <sip:10001@pbx\.test>$/m);
    expect(invite).toMatch(/^Contact: <sip:10009@127\.0\.0\.1:\d+>;\+sip\.instance="<urn:uuid:0{8}-0{4}-0{4}-0{4}-0{11}1>"$/m);
    expect(invite).toMatch(/^Via: SIP\/2\.0\/UDP 127\.0\.0\.1:\d+;rport;branch=z9hG4bK\S+$/m);
    expect(invite).toMatch(/^Max-Forwards: 70$/m);
    expect(invite).toMatch(/c=IN IP4 \S+\r?\nb=AS:3000\r?\nt=0 0/);
    // stripCodecs: neither PCMU nor G.722 is offered; the rest is.
    expect(invite).not.toMatch(/a=rtpmap:\d+ (PCMU|G722)\/8000/);
    expect(invite).toMatch(/a=rtpmap:8 PCMA\/8000/);
    expect(invite).toMatch(/^m=audio \d+ RTP\/AVP (?!.*\b(0|9)\b)[\d ]+\r?$/m);
    expect(invite).toMatch(/m=video \d+ RTP\/AVP[^\n]*\n(?:a=[^\n]*\n)*a=recvonly/);
    // In-dialog requests from the far end were answered (the scenario checks the codes and Allow).
    await waitUntil(() => /MESSAGE 405 Allow/.test(far.logs()), 5000, 50, 'in-dialog requests');
    expect(far.logs()).toMatch(/OPTIONS 200 Allow INVITE, ACK, CANCEL, BYE/);
    expect(far.logs()).toMatch(/FOO 501/);
    expect(far.logs()).toMatch(/ACK route Route: <sip:127\.0\.0\.1:\d+;lr>/);
    await gw.rest('/call/terminate', { callId });
    await final(callId, 'FINISH');
    // The BYE went to the first route with both Route headers, was challenged, and sent again with credentials.
    expect(await far.exited, far.errors()).toBe(0);
    expect(far.logs()).toMatch(/BYE BYE sip:127\.0\.0\.1:\d+ routes Route: <sip:127\.0\.0\.1:\d+;lr> Route: <sip:rr2\.invalid;lr>/);
    expect(far.logs()).toMatch(/BYE auth ok/);
    const byes = received(far, 'BYE');
    expect(byes).toHaveLength(2);
    expect(byes[1]).toMatch(/^Authorization: Digest .*username="10009"/m);
  });
});

describe('session timers (RFC 4028)', () => {
  it('we refresh by re-INVITE half-way (no UPDATE allowed), answering its 401; the call carries on', async () => {
    const far = await uas('uas-session-timer.xml', { vars: { se: '6', refresher: 'uac' }, authUser: '10009', authPassword: 'st-secret' });
    const callId = 'sip-st-0001';
    await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, sipLogin: '10009', sipPassword: 'st-secret' });
    const est = await final(callId, 'ESTABLISHED');
    expect(far.logs()).toMatch(/INVITE Supported timer/);
    await waitUntil(() => /REFRESH auth ok/.test(far.logs()), 6000, 50, 'the authenticated refresh');
    expect(far.logs()).toMatch(/REFRESH Session-Expires 6;refresher=uac sdp m=audio/);
    const reinvites = received(far, 'INVITE').slice(1);
    expect(reinvites).toHaveLength(2);
    expect(reinvites[1]).toMatch(/^Authorization: Digest .*username="10009"/m);
    // Refreshed about se/2 = 3 s after the answer, and the call is still up.
    expect(Date.now() - est.at).toBeGreaterThanOrEqual(2500);
    expect(statuses(callId).at(-1)).toBe('ESTABLISHED');
    await gw.rest('/call/terminate', { callId });
    await final(callId, 'FINISH');
    expect(await far.exited, far.errors()).toBe(0);
  });

  it('the far end is the refresher and never refreshes: we hang up before the session lapses', async () => {
    const far = await uas('uas-session-timer.xml', { vars: { se: '3', refresher: 'uas' } });
    const callId = 'sip-st-0002';
    await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}` });
    const est = await final(callId, 'ESTABLISHED');
    const fin = await final(callId, 'FINISH', 6000);
    // §10: BYE at se − min(32, se/3) = 2 s.
    expect(fin.at - est.at).toBeGreaterThanOrEqual(1800);
    expect(fin.at - est.at).toBeLessThan(3000);
    expect(await far.exited, far.errors()).toBe(0);
    expect(far.logs()).toMatch(/BYE received/);
  });
});

/** A bare UDP far end: every request the gateway sends, and a way to answer it. */
async function rawFarEnd(): Promise<{ port: number; requests: Array<SipRequest & { at: number; raw: string }>; send(m: ReturnType<typeof createResponse>, to: number): void; close(): Promise<void> }> {
  const sock = dgram.createSocket('udp4');
  const requests: Array<SipRequest & { at: number; raw: string }> = [];
  sock.on('message', (buf) => {
    const msg = parseMessage(buf);
    if (msg.type === 'request') requests.push(Object.assign(msg, { at: Date.now(), raw: buf.toString() }));
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return {
    port: sock.address().port,
    requests,
    send: (m, to) => sock.send(serializeMessage(m), to, '127.0.0.1'),
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
}

describe('UDP reliability and forking', () => {
  it('a lost INVITE is retransmitted after T1; a retransmitted 2xx is ACKed again; a forked 2xx gets ACK + BYE', async () => {
    const far = await rawFarEnd();
    try {
      const callId = 'sip-raw-0001';
      const sdp = 'v=0\r\no=f 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n';
      await gw.rest('/call/startup', { callId, callee: `sip:svc@127.0.0.1:${far.port}` });
      // The first INVITE is "lost": not answered. Timer A resends it after T1 (500 ms), same branch.
      await waitUntil(() => far.requests.filter((q) => q.method === 'INVITE').length >= 2, 3000, 10, 'an INVITE retransmission');
      const [first, again] = far.requests.filter((q) => q.method === 'INVITE');
      if (!first || !again) throw new Error('unreachable');
      expect(again.at - first.at).toBeGreaterThanOrEqual(400);
      expect(again.raw).toBe(first.raw);
      const gwPort = getTopVia(first).port ?? 5060;
      const answer = (tag: string, port: number): ReturnType<typeof createResponse> => createResponse(first, 200, 'OK', {
        toTag: tag, body: sdp, contentType: 'application/sdp', headers: [{ name: 'Contact', value: `<sip:${tag}@127.0.0.1:${port}>` }],
      });
      far.send(answer('fork-a', far.port), gwPort);
      await final(callId, 'ESTABLISHED');
      const acks = (): SipRequest[] => far.requests.filter((q) => q.method === 'ACK');
      await waitUntil(() => acks().length === 1, 2000, 10, 'the ACK');
      far.send(answer('fork-a', far.port), gwPort); // retransmitted 2xx: the ACK was lost (§13.2.2.4)
      await waitUntil(() => acks().length === 2, 2000, 10, 'a second ACK');
      expect(acks()[1]?.uri).toBe(`sip:fork-a@127.0.0.1:${far.port}`);
      far.send(answer('fork-b', far.port), gwPort); // another fork answers too
      await waitUntil(() => far.requests.some((q) => q.method === 'BYE'), 2000, 10, 'the BYE to the second fork');
      const forkAck = acks().find((q) => q.uri.startsWith('sip:fork-b@'));
      const forkBye = far.requests.find((q) => q.method === 'BYE');
      expect(forkAck).toBeDefined();
      expect(forkBye?.uri).toBe(`sip:fork-b@127.0.0.1:${far.port}`);
      expect(getHeader(forkBye as SipRequest, 'To')).toMatch(/tag=fork-b/);
      far.send(createResponse(forkBye as SipRequest, 200, 'OK'), gwPort);
      // The first dialog lives on.
      await new Promise((r) => setTimeout(r, 200));
      expect(statuses(callId).at(-1)).toBe('ESTABLISHED');
      await gw.rest('/call/terminate', { callId });
      await waitUntil(() => far.requests.filter((q) => q.method === 'BYE').length === 2, 2000, 10, 'our BYE');
      const bye = far.requests.filter((q) => q.method === 'BYE')[1] as SipRequest;
      expect(bye.uri).toBe(`sip:fork-a@127.0.0.1:${far.port}`);
      expect(getCSeq(bye).seq).toBe(getCSeq(first).seq + 1);
      expect(getHeaders(bye, 'Route')).toHaveLength(0);
      far.send(createResponse(bye, 200, 'OK'), gwPort);
      await final(callId, 'FINISH');
    } finally {
      await far.close();
    }
  });
});
