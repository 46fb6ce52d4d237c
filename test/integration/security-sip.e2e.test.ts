/**
 * The SIP port against a stranger, on 127.0.0.1 (127.0.0.3 plays the
 * victim of a reflection): a `received=` planted in a request's Via does not
 * aim our responses elsewhere, and a forged 200 OK that knows the Call-ID,
 * tags and CSeq of a ringing call but not our INVITE's branch cannot take the
 * call over. The SIP Call-ID and CSeq are random, not derived from the REST callId.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import dgram from 'node:dgram';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { SippFarEnds } from '../helpers/sipp.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { waitUntil } from '../helpers/wait.js';
import { assertNoChildProcesses } from '../helpers/processes.js';

let gw: TestGateway;
let hooks: WebhookReceiver;
const fars = new SippFarEnds();
const sockets: dgram.Socket[] = [];

async function udp(address: string): Promise<{ sock: dgram.Socket; port: number; got: string[] }> {
  const sock = dgram.createSocket('udp4');
  const got: string[] = [];
  sock.on('message', (m) => got.push(m.toString('latin1')));
  await new Promise<void>((r) => sock.bind(0, address, () => r()));
  sockets.push(sock);
  return { sock, port: sock.address().port, got };
}

beforeAll(async () => {
  hooks = await startWebhookReceiver();
  // The realm-hopping far end's realms are all allowed: the cap, not the realm list, must stop it.
  gw = await startTestGateway({ webhook: { apps: { callApp: hooks.baseUrl } }, sip: { authRealms: [0, 1, 2, 3, 4, 5].map((i) => `hop-${i}.test`) } });
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await fars.closeAll();
  await gw?.close();
  await hooks?.close();
  await assertNoChildProcesses();
});

describe('SIP: no reflection, no forged answers', () => {
  it('a received= (and rport=) planted in the Via is overwritten: the response comes back to the sender, never to the victim', async () => {
    const victim = await udp('127.0.0.3');
    const attacker = await udp('127.0.0.1');
    const options = (n: number, via: string): string => [
      `OPTIONS sip:gw@127.0.0.1:${gw.gw.sipPort} SIP/2.0`, `Via: ${via};branch=z9hG4bK-reflect-${n}`,
      'From: <sip:x@127.0.0.1>;tag=r1', `To: <sip:gw@127.0.0.1>`, `Call-ID: reflect-${n}`, `CSeq: ${n} OPTIONS`, 'Max-Forwards: 70', 'Content-Length: 0', '', '',
    ].join('\r\n');
    attacker.sock.send(options(1, `SIP/2.0/UDP 127.0.0.1:${attacker.port};received=127.0.0.3;rport=${victim.port}`), gw.gw.sipPort, '127.0.0.1');
    attacker.sock.send(options(2, `SIP/2.0/UDP 127.0.0.3:${victim.port};received=127.0.0.3`), gw.gw.sipPort, '127.0.0.1');
    attacker.sock.send(options(3, `SIP/2.0/UDP 127.0.0.1:${attacker.port};rport;received=127.0.0.3`), gw.gw.sipPort, '127.0.0.1');
    await waitUntil(() => attacker.got.filter((t) => /^SIP\/2\.0 200 /.test(t)).length === 2, 3000, 20, 'answers to the sender');
    await new Promise((r) => setTimeout(r, 600));
    expect(victim.got).toEqual([]);
    // The sender's real address is what the response's Via records.
    expect(attacker.got.find((t) => t.includes('reflect-1'))).toMatch(new RegExp(`received=127\\.0\\.0\\.1;rport=${attacker.port}|rport=${attacker.port};received=127\\.0\\.0\\.1`));
  });

  it('a forged 200 OK with the ringing call\'s Call-ID, tags and CSeq but another branch is ignored; the call stays RING', async () => {
    const far = await fars.uas('uas-ring-cancel.xml');
    const callId = 'forged-200-1';
    expect((await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}` })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'RING', 10_000);
    const invite = far.sipMessages().find((m) => m.direction === 'received' && m.method === 'INVITE')?.text ?? '';
    const header = (name: string): string => new RegExp(`^${name}: (.*?)\\r?$`, 'mi').exec(invite)?.[1] ?? '';
    const sipCallId = header('Call-ID');
    // Unguessable identifiers: not the REST callId, 96 random bits.
    expect(sipCallId).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(invite).not.toContain(callId);
    const attacker = await udp('127.0.0.1');
    const sdp = ['v=0', 'o=x 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${attacker.port} RTP/AVP 8`, 'a=rtpmap:8 PCMA/8000', ''].join('\r\n');
    const forged = [
      'SIP/2.0 200 OK', `Via: ${header('Via').replace(/branch=[^;]+/, 'branch=z9hG4bK-guessed')}`,
      `From: ${header('From')}`, `To: ${header('To')};tag=evil`, `Call-ID: ${sipCallId}`, `CSeq: ${header('CSeq')}`,
      `Contact: <sip:evil@127.0.0.1:${attacker.port}>`, 'Content-Type: application/sdp', `Content-Length: ${sdp.length}`, '', sdp,
    ].join('\r\n');
    for (let i = 0; i < 3; i++) attacker.sock.send(forged, gw.gw.sipPort, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 1000));
    expect(gw.gw.calls.registry.get(callId).status).toBe('RING');
    expect(attacker.got.filter((t) => /^ACK /.test(t))).toEqual([]);
    expect(gw.logs().some((l) => l.msg === 'a 2xx for this call matching none of our INVITEs: dropped')).toBe(true);
    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    await waitUntil(() => far.sipMessages().some((m) => m.direction === 'received' && m.method === 'CANCEL'), 5000, 50, 'CANCEL');
  });
});

describe('SIP: digest only where it belongs', () => {
  it('a realm-hopping far end gets at most two authenticated retries, then the call fails with its 401', async () => {
    const far = await fars.uas('uas-realm-hop.xml');
    const callId = 'realm-hop-1';
    await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, sipLogin: '10009', sipPassword: 'hop-secret' });
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FAILED', 10_000);
    expect(hooks.events.filter((e) => e.body?.callId === callId).at(-1)?.body.sipStatus).toBe(401);
    await new Promise((r) => setTimeout(r, 500));
    const invites = far.sipMessages().filter((m) => m.direction === 'received' && m.method === 'INVITE');
    expect(invites).toHaveLength(1 + 2);
    expect(gw.logs().some((l) => l.callId === callId && l.msg === 'challenge not answered' && /more than 2 challenges/.test(l.why))).toBe(true);
  });

  it('a challenge for a realm that is not the domain dialled (nor in sip.authRealms) is not answered', async () => {
    const far = await fars.uas('uas-auth.xml', { authUser: '10009', authPassword: 'right-pass' });
    const callId = 'foreign-realm-1';
    await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, sipLogin: '10009', sipPassword: 'right-pass' });
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FAILED', 10_000);
    const invites = far.sipMessages().filter((m) => m.direction === 'received' && m.method === 'INVITE');
    expect(invites).toHaveLength(1);
    expect(invites[0]?.text).not.toMatch(/^Authorization:/m);
    expect(gw.logs().some((l) => l.callId === callId && /realm "sipp.test" is not one these credentials are for/.test(l.why ?? ''))).toBe(true);
  });
});

describe('SIP: session intervals', () => {
  it('a far end refreshing with Session-Expires below our Min-SE gets 422 with Min-SE 90; the call carries on', async () => {
    const far = await fars.uas('uas-small-se.xml');
    const callId = 'small-se-1';
    await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}` });
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 10_000);
    await waitUntil(() => /MINSE 90/.test(far.logs()), 5000, 50, 'the 422 with Min-SE');
    expect(gw.gw.calls.registry.get(callId).status).toBe('ESTABLISHED');
    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    expect(await far.exited, far.errors()).toBe(0);
  });
});

describe('SIP: floods', () => {
  it('out-of-dialog requests from one source are dropped past its burst; another source is still answered', async () => {
    const flooder = await udp('127.0.0.4');
    const other = await udp('127.0.0.3');
    const options = (n: number, port: number, host: string): string => [
      `OPTIONS sip:gw@127.0.0.1:${gw.gw.sipPort} SIP/2.0`, `Via: SIP/2.0/UDP ${host}:${port};branch=z9hG4bK-flood-${host}-${n}`,
      'From: <sip:x@127.0.0.1>;tag=f1', 'To: <sip:gw@127.0.0.1>', `Call-ID: flood-${host}-${n}`, `CSeq: ${n} OPTIONS`, 'Max-Forwards: 70', 'Content-Length: 0', '', '',
    ].join('\r\n');
    for (let i = 0; i < 300; i++) flooder.sock.send(options(i, flooder.port, '127.0.0.4'), gw.gw.sipPort, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 800));
    other.sock.send(options(1, other.port, '127.0.0.3'), gw.gw.sipPort, '127.0.0.1');
    await waitUntil(() => other.got.some((t) => /^SIP\/2\.0 200 /.test(t)), 3000, 20, 'the other source answered');
    const answered = flooder.got.filter((t) => /^SIP\/2\.0 200 /.test(t)).length;
    // The burst (40) plus what 20/s refilled while the flood was being sent.
    expect(answered).toBeGreaterThanOrEqual(40);
    expect(answered).toBeLessThan(100);
    expect(gw.logs().some((l) => l.msg === 'SIP request dropped: rate limit or transaction cap' && l.from === '127.0.0.4')).toBe(true);
  });
});
