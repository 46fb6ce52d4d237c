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

/** RFC 4733 events seen by the sink, one per event timestamp, in arrival order. */
function receivedEvents(c: RtpCollector): { event: number; ends: number; marker: boolean; maxDuration: number }[] {
  const byTs = new Map<number, { event: number; ends: number; marker: boolean; maxDuration: number }>();
  for (const p of c.kept) {
    const h = parseRtpHeader(p);
    if (h?.payloadType !== 101) continue;
    const off = h.payloadOffset;
    const e = byTs.get(h.timestamp) ?? { event: p[off]!, ends: 0, marker: false, maxDuration: 0 };
    if (p[off + 1]! & 0x80) e.ends++;
    if (h.marker) e.marker = true;
    e.maxDuration = Math.max(e.maxDuration, p.readUInt16BE(off + 2));
    byTs.set(h.timestamp, e);
  }
  return [...byTs.values()];
}

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
    await waitUntil(() => receivedEvents(sink).filter((d) => d.ends === 3).length >= 3, 10_000, 50, 'three digits');

    const digits = receivedEvents(sink);
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

describe('joinDtmf: a conference PIN sent once the call is established', () => {
  it('sends 1234# as RFC 4733 events after delayMs, in order', async () => {
    const pinSink = await RtpCollector.bind(await freeUdpPortRange(2), 500);
    const ivr = await startSippUas({ scenario: 'uas-answer-sink.xml', sipPort: await freeUdpPort(), mediaPort: await freeUdpPortRange(4), vars: { audio_sink: String(pinSink.port) } });
    try {
      const id = 'dtmf-join-0001';
      const res = await gw.rest('/call/startup', { callId: id, callee: `sip:service@127.0.0.1:${ivr.sipPort}`, joinDtmf: { digits: '1234#', delayMs: '300' } });
      expect(res.status).toBe(200);
      const est = await hooks.waitFor((e) => e.body?.callId === id && e.body.status === 'ESTABLISHED', 10_000);
      await waitUntil(() => receivedEvents(pinSink).filter((d) => d.ends === 3).length >= 5, 10_000, 50, 'five digits');
      expect(receivedEvents(pinSink).map((d) => d.event)).toEqual([1, 2, 3, 4, 11]);
      expect(Date.now() - est.at).toBeGreaterThanOrEqual(300);
      expect(est.body.joinDtmfResult).toBeNull();
      // Reported in an event of its own (still ESTABLISHED): what was sent, how and when.
      const sent = await hooks.waitFor((e) => e.body?.callId === id && e.body.joinDtmfResult !== null && e.body.joinDtmfResult !== undefined, 5000);
      expect(sent.body).toMatchObject({ status: 'ESTABLISHED', joinDtmfResult: { digits: '1234#', type: 'RFC2833', result: 'SENT' } });
      expect(sent.body.joinDtmfResult.at - est.at).toBeGreaterThanOrEqual(250);
      expect((await gw.rest('/call/terminate', { callId: id })).status).toBe(200);
      await hooks.waitFor((e) => e.body?.callId === id && e.body.status === 'FINISH', 10_000);
    } finally {
      await ivr.close();
      await pinSink.close();
    }
  });

  it('rejects a malformed joinDtmf with 400 naming the field', async () => {
    const r = await gw.rest('/call/startup', { callee: 'sip:x@127.0.0.1:9', joinDtmf: { digits: '12x' } });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/joinDtmf\.digits/);
  });
});
