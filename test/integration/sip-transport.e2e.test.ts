/**
 * SIP transports (RFC 3261 §18) end to end: a call over TCP to SIPp (`-t t1`),
 * a UDP call whose INVITE is over 1300 bytes switched to TCP (§18.1.1), and
 * TLS with certificates made by the test with openssl, verified against a
 * configured CA (a far end signed by another CA is refused). SIPp here has
 * no TLS, so the TLS far end is a small in-test UAS on node:tls.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startSippUas, type SippProcess } from '../helpers/sipp.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { freeTcpPort, freeUdpPortRange } from '../helpers/ports.js';
import { assertNoChildProcesses } from '../helpers/processes.js';
import { makeTestPki, type TestPki } from '../helpers/tls.js';
import { waitUntil } from '../helpers/wait.js';
import { StreamFramer } from '../../src/sip/stream-framer.js';
import { createResponse, parseMessage, serializeMessage, type SipRequest } from '../../src/sip/message.js';

let gw: TestGateway;
let hooks: WebhookReceiver;
let pki: TestPki;
let otherPki: TestPki;
const sipps: SippProcess[] = [];

async function tcpUas(scenario: string): Promise<SippProcess> {
  const p = await startSippUas({ scenario, sipPort: await freeTcpPort(), mediaPort: await freeUdpPortRange(4), transport: 't1' });
  sipps.push(p);
  return p;
}

function statuses(callId: string): string[] {
  return hooks.events.filter((e) => e.body?.callId === callId).map((e) => e.body.status as string)
    .filter((s, i, a) => i === 0 || a[i - 1] !== s);
}

/** A minimal UAS over TLS: 100 + 200 (PCMA) to INVITE, 200 to BYE; records every request. */
async function startTlsUas(p: TestPki): Promise<{ port: number; requests: SipRequest[]; handshakes: number; close(): Promise<void> }> {
  const requests: SipRequest[] = [];
  const sockets = new Set<tls.TLSSocket>();
  let handshakes = 0;
  const server = tls.createServer({ cert: p.pem.cert, key: p.pem.key }, (sock) => {
    handshakes++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    const framer = new StreamFramer();
    sock.on('data', (chunk: Buffer) => {
      for (const f of framer.push(chunk)) {
        if (f.kind !== 'message') continue;
        const msg = parseMessage(f.data);
        if (msg.type !== 'request') continue;
        requests.push(msg);
        const port = (server.address() as AddressInfo).port;
        if (msg.method === 'INVITE') {
          sock.write(serializeMessage(createResponse(msg, 100, 'Trying')));
          const sdp = 'v=0\r\no=uas 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n';
          sock.write(serializeMessage(createResponse(msg, 200, 'OK', {
            toTag: 'tlsuas', body: sdp, contentType: 'application/sdp',
            headers: [{ name: 'Contact', value: `<sip:uas@127.0.0.1:${port};transport=tls>` }],
          })));
        } else if (msg.method !== 'ACK') sock.write(serializeMessage(createResponse(msg, 200, 'OK')));
      }
    });
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    get handshakes() {
      return handshakes;
    },
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

beforeAll(async () => {
  [pki, otherPki] = await Promise.all([makeTestPki(), makeTestPki('untrusted-server')]);
  hooks = await startWebhookReceiver();
  gw = await startTestGateway({ webhook: { apps: { callApp: hooks.baseUrl } }, sip: { tls: { caFile: pki.caCert } } });
});

afterAll(async () => {
  for (const s of sipps) await s.close();
  await gw?.close();
  await hooks?.close();
  pki?.remove();
  otherPki?.remove();
  await assertNoChildProcesses();
});

describe('SIP over TCP', () => {
  it('sipTransport tcp: INVITE, ACK and BYE over one TCP connection to SIPp', async () => {
    const far = await tcpUas('uas-answer.xml');
    const callId = 'sip-tcp-0001';
    const r = await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, sipTransport: 'tcp' });
    expect(r.status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 10_000);
    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    expect(statuses(callId)).toEqual(['PENDING', 'TRYING', 'RING', 'ESTABLISHED', 'FINISH']);
    expect(await far.exited, far.errors()).toBe(0);
    const got = far.sipMessages().filter((m) => m.direction === 'received');
    const invite = got.find((m) => m.method === 'INVITE');
    expect(invite?.text).toMatch(/^Via: SIP\/2\.0\/TCP 127\.0\.0\.1:\d+;rport;branch=z9hG4bK/m);
    expect(invite?.text).toMatch(/^Contact: <sip:gateway@127\.0\.0\.1:\d+;transport=tcp>/m);
    expect(got.map((m) => m.method)).toEqual(expect.arrayContaining(['INVITE', 'ACK', 'BYE']));
  });

  it('a UDP INVITE over 1300 bytes goes over TCP instead (RFC 3261 §18.1.1)', async () => {
    const far = await tcpUas('uas-answer.xml');
    const callId = 'sip-tcp-big-0001';
    // sipSDP lines make the offer large; the call names no transport (default udp).
    const sipSDP = Array.from({ length: 12 }, (_, i) => `a=x-pad${i}:${'p'.repeat(60)}`);
    const r = await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, sipSDP });
    expect(r.status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 10_000);
    const invite = far.sipMessages().find((m) => m.direction === 'received' && m.method === 'INVITE');
    expect(Buffer.byteLength(invite?.text ?? '')).toBeGreaterThan(1300);
    expect(invite?.text).toMatch(/^Via: SIP\/2\.0\/TCP /m);
    expect(invite?.text).toContain('a=x-pad11:');
    expect(gw.logs().some((l) => l.callId === callId && /above 1300 bytes: sending it over TCP/.test(l.msg))).toBe(true);
    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    expect(await far.exited, far.errors()).toBe(0);
  });
});

describe('SIP over TLS', () => {
  it('verifies the far end against sip.tls.caFile, then INVITE/ACK/BYE over TLS', async () => {
    const uas = await startTlsUas(pki);
    try {
      const callId = 'sip-tls-0001';
      const r = await gw.rest('/call/startup', { callId, callee: 'sips:uas@127.0.0.1', sipPort: uas.port });
      expect(r.status).toBe(200);
      await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 10_000);
      expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
      await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
      // FINISH is reported as the BYE leaves (media torn down at once): wait for it to land.
      await waitUntil(() => uas.requests.some((q) => q.method === 'BYE'), 5000, 20, 'the BYE');
      expect(uas.requests.map((q) => q.method)).toEqual(['INVITE', 'ACK', 'BYE']);
      const via = uas.requests[0]?.headers.find((h) => h.name === 'Via')?.value;
      expect(via).toMatch(/^SIP\/2\.0\/TLS /);
      expect(uas.requests[0]?.headers.find((h) => h.name === 'Contact')?.value).toMatch(/;transport=tls>/);
      expect(uas.handshakes).toBe(1); // one connection for the whole dialog
    } finally {
      await uas.close();
    }
  });

  it('refuses a far end whose certificate no trusted CA signed: FAILED, 503, nothing sent', async () => {
    const uas = await startTlsUas(otherPki);
    try {
      const callId = 'sip-tls-0002';
      await gw.rest('/call/startup', { callId, callee: 'sip:uas@127.0.0.1', sipPort: uas.port, sipTransport: 'tls' });
      const failed = await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FAILED', 10_000);
      expect(failed.body).toMatchObject({ sipStatus: 503 });
      expect(uas.requests).toHaveLength(0);
    } finally {
      await uas.close();
    }
  });
});
