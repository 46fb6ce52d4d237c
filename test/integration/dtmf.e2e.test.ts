/**
 * /call/send_dtmf against a real SIPp far end: RFC 4733 events arrive on the
 * far end's audio port (a socket of the test, named in SIPp's SDP answer) and
 * SIP INFO (application/dtmf, application/dtmf-relay) reaches SIPp.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import dgram from 'node:dgram';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startSippUas, type SippProcess } from '../helpers/sipp.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { RtpCollector, parseRtpHeader } from '../helpers/rtp-sink.js';
import { freeUdpPort, freeUdpPortRange } from '../helpers/ports.js';
import { waitUntil } from '../helpers/wait.js';
import { assertNoChildProcesses } from '../helpers/processes.js';

let gw: TestGateway;
let hooks: WebhookReceiver;
let far: SippProcess;
let sink: RtpCollector;
const callId = 'dtmf-call-0001';

beforeAll(async () => {
  hooks = await startWebhookReceiver();
  gw = await startTestGateway({ webhook: { apps: { callApp: hooks.baseUrl } } });
  sink = await RtpCollector.bind(await freeUdpPortRange(2), 500);
  far = await startSippUas({ scenario: 'uas-answer-sink.xml', sipPort: await freeUdpPort(), mediaPort: await freeUdpPortRange(4), vars: { audio_sink: String(sink.port) } });
});

afterAll(async () => {
  await far?.close();
  await gw?.close();
  await sink?.close();
  await hooks?.close();
  await assertNoChildProcesses();
});

describe('DTMF to the far end', () => {
  it('refuses DTMF before the call is ESTABLISHED with 409', async () => {
    // A far end that only rings: 180 to the INVITE, then 200 to CANCEL and 487 to the INVITE.
    const ringer = dgram.createSocket('udp4');
    await new Promise<void>((r) => ringer.bind(0, '127.0.0.1', () => r()));
    let cancels = 0;
    ringer.on('message', (m, from) => {
      const text = m.toString();
      const method = /^([A-Z]+) /.exec(text)?.[1];
      const hdrs = text.split('\r\n\r\n')[0]!.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l));
      const reply = (status: string): void => {
        const lines = hdrs.map((l) => (/^To:/i.test(l) && !/;tag=/.test(l) ? `${l};tag=ring1` : l));
        ringer.send(`SIP/2.0 ${status}\r\n${lines.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`, from.port, from.address);
      };
      if (method === 'INVITE') reply('180 Ringing');
      if (method === 'CANCEL') {
        cancels++;
        reply('200 OK');
        const inviteHdrs = hdrs.map((l) => l.replace(/CANCEL$/, 'INVITE'));
        const lines = inviteHdrs.map((l) => (/^To:/i.test(l) && !/;tag=/.test(l) ? `${l};tag=ring1` : l));
        ringer.send(`SIP/2.0 487 Request Terminated\r\n${lines.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`, from.port, from.address);
      }
    });
    try {
      const early = 'dtmf-early-0001';
      expect((await gw.rest('/call/startup', { callId: early, callee: `sip:service@127.0.0.1:${ringer.address().port}` })).status).toBe(200);
      await hooks.waitFor((e) => e.body?.callId === early && e.body.status === 'RING', 10_000);
      const d = await gw.rest('/call/send_dtmf', { callId: early, dtmf: '1' });
      expect(d.status).toBe(409);
      expect(d.body.message).toMatch(/not ESTABLISHED/);
      expect((await gw.rest('/call/terminate', { callId: early })).status).toBe(200);
      await hooks.waitFor((e) => e.body?.callId === early && e.body.status === 'FINISH', 10_000);
      expect(cancels).toBeGreaterThanOrEqual(1); // terminate while ringing → CANCEL
    } finally {
      ringer.close();
    }
  });

  it('sends a PIN with a pause as RFC 4733 events, in order, each ended by three end packets', async () => {
    expect((await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}` })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 10_000);
    const t0 = Date.now();
    const res = await gw.rest('/call/send_dtmf', { callId, dtmf: '12,#', type: 'RFC2833' });
    expect(res.status).toBe(200);
    await waitUntil(() => sink.packets(101) > 0 && sink.kept.filter((p) => parseRtpHeader(p)?.payloadType === 101 && (p[13]! & 0x80)).length >= 9, 10_000, 50, 'three digits');

    const events = sink.kept.map((p) => ({ h: parseRtpHeader(p), p })).filter((x) => x.h?.payloadType === 101);
    const byTs = new Map<number, { event: number; ends: number; marker: boolean; maxDuration: number }>();
    for (const { h, p } of events) {
      const off = h!.payloadOffset;
      const e = byTs.get(h!.timestamp) ?? { event: p[off]!, ends: 0, marker: false, maxDuration: 0 };
      if (p[off + 1]! & 0x80) e.ends++;
      if (h!.marker) e.marker = true;
      e.maxDuration = Math.max(e.maxDuration, p.readUInt16BE(off + 2));
      byTs.set(h!.timestamp, e);
    }
    const digits = [...byTs.values()];
    expect(digits.map((d) => d.event)).toEqual([1, 2, 11]);
    for (const d of digits) {
      expect(d.ends).toBe(3);
      expect(d.marker).toBe(true);
      expect(d.maxDuration).toBeGreaterThanOrEqual(800); // ≥ 100 ms at 8 kHz
    }
    // The ',' pause: at least 0.5 s between the 2 and the # events.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
  });

  it('sends SIP INFO application/dtmf and application/dtmf-relay', async () => {
    expect((await gw.rest('/call/send_dtmf', { callId, dtmf: '5', type: 'INFO' })).status).toBe(200);
    expect((await gw.rest('/call/send_dtmf', { callId, dtmf: '9', type: 'INFO_RELAY' })).status).toBe(200);
    await waitUntil(() => far.sipMessages().filter((m) => m.direction === 'received' && m.method === 'INFO').length >= 2, 10_000, 50, 'two INFOs');
    const infos = far.sipMessages().filter((m) => m.direction === 'received' && m.method === 'INFO');
    expect(infos[0]?.text).toMatch(/Content-Type:\s*application\/dtmf\r?\n/i);
    expect(infos[0]?.text).toMatch(/\r?\n\r?\n5\s*$/);
    expect(infos[1]?.text).toMatch(/Content-Type:\s*application\/dtmf-relay/i);
    expect(infos[1]?.text).toMatch(/Signal=9\r?\nDuration=160/);
    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
  });
});
