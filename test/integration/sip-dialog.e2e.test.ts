/**
 * SIP dialog behaviour against real SIPp far ends on 127.0.0.1: hold and
 * resume by re-INVITE and UPDATE (with a new codec and port), and early media
 * on a 183 with SDP.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { SippFarEnds, type SippProcess } from '../helpers/sipp.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { assertNoChildProcesses } from '../helpers/processes.js';

let gw: TestGateway;
let hooks: WebhookReceiver;
const fars = new SippFarEnds();

function uas(scenario: string, extra: Parameters<SippFarEnds['uas']>[1] = {}): Promise<SippProcess> {
  return fars.uas(scenario, { mediaPortCount: 6, ...extra });
}

function events(callId: string): any[] {
  return hooks.events.filter((e) => e.path === '/CallStatusEvent' && e.body?.callId === callId).map((e) => e.body);
}

function statuses(callId: string): string[] {
  return events(callId).map((b) => b.status as string).filter((s, i, a) => i === 0 || a[i - 1] !== s);
}

beforeAll(async () => {
  hooks = await startWebhookReceiver();
  gw = await startTestGateway({ webhook: { apps: { callApp: hooks.baseUrl } } });
});

afterAll(async () => {
  await fars.closeAll();
  await gw?.close();
  await hooks?.close();
  await assertNoChildProcesses();
});

describe('hold and resume through REST', () => {
  it('/call/hold sends a sendonly re-INVITE → HOLD; /call/unhold a sendrecv one → ESTABLISHED; wrong states 409, unknown 404', async () => {
    const far = await uas('uas-held-by-us.xml');
    const callId = 'sip-rest-hold-0001';
    expect((await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, hasVideo: false })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 10_000);
    expect((await gw.rest('/call/unhold', { callId })).status).toBe(409);
    const held = await gw.rest('/call/hold', { callId });
    expect(held.status).toBe(200);
    expect(held.body).toMatchObject({ callId, status: 'HOLD' });
    expect((await gw.rest('/call/hold', { callId })).status).toBe(409);
    const resumed = await gw.rest('/call/unhold', { callId });
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ callId, status: 'ESTABLISHED' });
    expect((await gw.rest('/call/hold', { callId: 'no-such-call' })).status).toBe(404);
    expect(statuses(callId)).toEqual(['PENDING', 'TRYING', 'ESTABLISHED', 'HOLD', 'ESTABLISHED']);
    expect(far.logs()).toMatch(/HOLD a=sendonly/);
    expect(far.logs()).toMatch(/RESUME a=sendrecv/);
    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    expect(await far.exited, far.errors()).toBe(0);
  });
});

describe('transfer through REST (REFER, RFC 3515)', () => {
  const transfers = (callId: string): any[] => hooks.events.filter((e) => e.path === '/TransferStatusEvent' && e.body?.callId === callId).map((e) => e.body);

  it('/call/transfer: a user part resolved in the call\'s domain, REFER with Refer-To, NOTIFY 100 → TRYING, NOTIFY 200 → COMPLETED, then our BYE (FINISH TRANSFERRED)', async () => {
    const far = await uas('uas-refer.xml', { vars: { final: '200 OK' } });
    const callId = 'sip-rest-transfer-0001';
    expect((await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, hasVideo: false })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 10_000);
    expect((await gw.rest('/call/transfer', { callId })).status).toBe(400);
    expect((await gw.rest('/call/transfer', { callId: 'no-such-call', target: '1000' })).status).toBe(404);
    const r = await gw.rest('/call/transfer', { callId, target: 'reception' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ callId, status: 'ESTABLISHED', target: 'sip:reception@127.0.0.1' });
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    expect(transfers(callId).map((t) => [t.status, t.sipStatus])).toEqual([['ACCEPTED', 202], ['TRYING', 100], ['COMPLETED', 200]]);
    expect(transfers(callId)[0]).toMatchObject({ target: 'sip:reception@127.0.0.1', appKey: 'callApp' });
    expect(events(callId).at(-1)).toMatchObject({ status: 'FINISH', info: 'TRANSFERRED' });
    expect(await far.exited, far.errors()).toBe(0);
    expect(far.logs()).toMatch(/REFER-TO sip:reception@127\.0\.0\.1 REFERRED-BY sip:/);
    const notifyAnswers = far.sipMessages().filter((m) => m.direction === 'received' && m.method === 'NOTIFY' && m.status === 200);
    expect(notifyAnswers).toHaveLength(2);
  });

  it('a NOTIFY with 486 → FAILED and the call stays ESTABLISHED; a second transfer while one runs is 409', async () => {
    const far = await uas('uas-refer.xml', { vars: { final: '486 Busy Here' } });
    const callId = 'sip-rest-transfer-0002';
    expect((await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, hasVideo: false })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 10_000);
    expect((await gw.rest('/call/transfer', { callId, target: 'sip:busy@127.0.0.1' })).status).toBe(200);
    expect((await gw.rest('/call/transfer', { callId, target: 'sip:other@127.0.0.1' })).status).toBe(409);
    await hooks.waitFor((e) => e.path === '/TransferStatusEvent' && e.body?.callId === callId && e.body.status === 'FAILED', 10_000);
    expect(transfers(callId).map((t) => [t.status, t.sipStatus, t.info])).toEqual([
      ['ACCEPTED', 202, 'Accepted'], ['TRYING', 100, 'Trying'], ['FAILED', 486, 'Busy Here'],
    ]);
    expect((await gw.rest('/call/find', { callId })).body[0]).toMatchObject({ status: 'ESTABLISHED', target: 'sip:busy@127.0.0.1' });
    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    expect(events(callId).at(-1)).toMatchObject({ info: 'NORMAL_CALL_CLEARING' });
    expect(await far.exited, far.errors()).toBe(0);
  });
});

describe('in-dialog offers from the far end', () => {
  it('hold (sendonly / inactive) → HOLD, resume → ESTABLISHED, by re-INVITE and UPDATE, new codec followed', async () => {
    const far = await uas('uas-hold.xml');
    const callId = 'sip-hold-0001';
    expect((await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}` })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 10_000);
    // Four offers, 1.5 s apart: the last resume leaves the call ESTABLISHED again.
    await hooks.waitFor(() => statuses(callId).filter((s) => s === 'HOLD').length === 2
      && statuses(callId).at(-1) === 'ESTABLISHED', 15_000).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    expect(statuses(callId)).toEqual(['PENDING', 'TRYING', 'RING', 'ESTABLISHED', 'HOLD', 'ESTABLISHED', 'HOLD', 'ESTABLISHED']);
    // The resume re-INVITE moved audio to PCMU on another port.
    const all = events(callId);
    const resumed = all.slice(all.findIndex((b) => b.status === 'HOLD')).find((b) => b.status === 'ESTABLISHED');
    expect(resumed).toMatchObject({ audioCodec: 'PCMU/8000', videoCodec: 'H264/90000', sipStatus: 200 });

    const sent = far.sipMessages().filter((m) => m.direction === 'received' && m.status === 200);
    const answers = sent.filter((m) => /CSeq:\s*\d+\s+(INVITE|UPDATE)/i.test(m.text));
    expect(answers.length).toBeGreaterThanOrEqual(4);
    expect(answers[0]?.text).toMatch(/a=recvonly/);
    expect(answers[1]?.text).toMatch(/m=audio \d+ RTP\/AVP 0 101/);
    expect(answers[2]?.text).toMatch(/a=inactive/);
    expect(answers[3]?.text).toMatch(/a=sendrecv/);
    // o= version grows with every SDP we send (RFC 3264 §8).
    const versions = answers.map((m) => Number(/o=- \d+ (\d+)/.exec(m.text)?.[1]));
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);

    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    expect(await far.exited, far.errors()).toBe(0);
    expect(far.logs()).toMatch(/HOLD1 answer ok/);
    expect(far.logs()).toMatch(/RESUME2 answer ok/);
  });
});

describe('early media', () => {
  it('183 with SDP → SESSION_PROGRESS and media starts before the 200', async () => {
    const far = await uas('uas-early-media.xml', { durationMs: 2500 });
    const callId = 'sip-early-0001';
    expect((await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}` })).status).toBe(200);
    const progress = await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'SESSION_PROGRESS', 10_000);
    expect(progress.body).toMatchObject({ sipStatus: 183, audioCodec: 'PCMA/8000', videoCodec: 'H264/90000' });
    const est = await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 10_000);
    expect(est.at - progress.at).toBeGreaterThanOrEqual(2000);
    expect(statuses(callId)).toEqual(['PENDING', 'TRYING', 'SESSION_PROGRESS', 'ESTABLISHED']);
    // Media was received during early media: the RTMP output went active before the answer.
    const early = events(callId).filter((b) => b.status === 'SESSION_PROGRESS').map((b) => b.rtmpStreamStatus);
    expect(early).toContain('RTMP_STREAM_ACTIVE');
    const started = gw.logs().find((l) => l.callId === callId && l.msg === 'media started');
    expect(started).toMatchObject({ early: true });

    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    expect(await far.exited, far.errors()).toBe(0);
  });
});
