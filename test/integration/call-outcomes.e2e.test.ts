/**
 * Call outcomes against real SIPp far ends on 127.0.0.1: the far end hangs
 * up, answers busy, challenges with digest auth (right and wrong password).
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
  return fars.uas(scenario, extra);
}

function statuses(callId: string): string[] {
  return hooks.events.filter((e) => e.body?.callId === callId).map((e) => e.body.status as string)
    .filter((s, i, a) => i === 0 || a[i - 1] !== s);
}

beforeAll(async () => {
  hooks = await startWebhookReceiver();
  gw = await startTestGateway({ webhook: { apps: { callApp: hooks.baseUrl } }, sip: { authRealms: ['sipp.test'] } });
});

afterAll(async () => {
  await fars.closeAll();
  await gw?.close();
  await hooks?.close();
  await assertNoChildProcesses();
});

describe('call outcomes with real SIP far ends', () => {
  it('far end hangs up (BYE) → FINISH, and the gateway answers the BYE with 200', async () => {
    const far = await uas('uas-bye.xml', { durationMs: 2500 });
    const callId = 'outcome-bye-0001';
    expect((await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}` })).status).toBe(200);
    const fin = await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 15_000);
    expect(fin.body).toMatchObject({ info: 'NORMAL_CALL_CLEARING' });
    expect(statuses(callId)).toEqual(['PENDING', 'TRYING', 'RING', 'ESTABLISHED', 'FINISH']);
    // sipMessageRaw: the SIP message behind each change, as the far end sent it.
    const raw = (status: string): string => hooks.events.find((e) => e.body?.callId === callId && e.body.status === status)?.body.sipMessageRaw;
    expect(hooks.events.find((e) => e.body?.callId === callId && e.body.status === 'PENDING')?.body.sipMessageRaw).toBeNull();
    expect(raw('RING')).toMatch(/^SIP\/2\.0 180 /);
    expect(raw('ESTABLISHED')).toMatch(/^SIP\/2\.0 200 OK\r\n[\s\S]*CSeq: *\d+ INVITE[\s\S]*\r\n\r\nv=0/);
    expect(raw('FINISH')).toMatch(/^BYE sip:/);
    expect(await far.exited).toBe(0);
    const msgs = far.sipMessages();
    expect(msgs.some((m) => m.direction === 'sent' && m.method === 'BYE')).toBe(true);
    expect(msgs.some((m) => m.direction === 'received' && m.status === 200 && /CSeq:\s*\d+\s+BYE/i.test(m.text))).toBe(true);
    expect((await gw.rest('/call/find', { callId })).status).toBe(404);
  });

  it('far end answers 486 Busy Here → BUSY with sipStatus 486, ACK on the wire', async () => {
    const far = await uas('uas-busy.xml');
    const callId = 'outcome-busy-0001';
    expect((await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}` })).status).toBe(200);
    const busy = await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'BUSY', 10_000);
    // WCS reports RTMP_STREAM_WAIT from TRYING on; nothing was ever published, so it stays so.
    expect(busy.body).toMatchObject({ sipStatus: 486, info: 'Busy Here', rtmpStreamStatus: 'RTMP_STREAM_WAIT' });
    expect(hooks.events.filter((e) => e.body?.callId === callId).map((e) => [e.body.status, e.body.rtmpStreamStatus])).toEqual([
      ['PENDING', null], ['TRYING', 'RTMP_STREAM_WAIT'], ['BUSY', 'RTMP_STREAM_WAIT'],
    ]);
    expect(statuses(callId)).toEqual(['PENDING', 'TRYING', 'BUSY']);
    expect(await far.exited).toBe(0);
    expect(far.sipMessages().some((m) => m.direction === 'received' && m.method === 'ACK')).toBe(true);
  });

  it('401 digest challenge → the authenticated INVITE is answered and the call is ESTABLISHED', async () => {
    const far = await uas('uas-auth.xml', { authUser: '10009', authPassword: 'right-pass' });
    const callId = 'outcome-auth-0001';
    const res = await gw.rest('/call/startup', {
      callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, sipLogin: '10009', sipPassword: 'right-pass',
    });
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.body)).not.toContain('right-pass');
    const est = await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 10_000);
    expect(est.body.sipMessageRaw).toMatch(/^SIP\/2\.0 200 OK/);
    const invites = far.sipMessages().filter((m) => m.direction === 'received' && m.method === 'INVITE');
    expect(invites).toHaveLength(2);
    expect(invites[1]?.text).toMatch(/Authorization:\s*Digest .*username="10009"/i);
    expect(invites[1]?.text).toMatch(/qop=auth/);
    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    expect(gw.logs().some((l) => JSON.stringify(l).includes('right-pass'))).toBe(false);
    // No event carries the credentials: neither the password nor our Authorization header.
    const events = JSON.stringify(hooks.events.filter((e) => e.body?.callId === callId));
    expect(events).not.toContain('right-pass');
    expect(events).not.toMatch(/Authorization: *Digest/i);
  });

  it('a wrong password ends the call FAILED with the far end\'s status', async () => {
    const far = await uas('uas-auth.xml', { authUser: '10009', authPassword: 'right-pass' });
    const callId = 'outcome-auth-0002';
    await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, sipLogin: '10009', sipPassword: 'wrong-pass' });
    const failed = await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FAILED', 10_000);
    expect(failed.body).toMatchObject({ sipStatus: 403 });
    expect(statuses(callId)).toEqual(['PENDING', 'TRYING', 'FAILED']);
  });

  it('appKey "defaultApp" (the WCS example) and an unknown appKey reach the default application; strict mode refuses them (400)', async () => {
    for (const [callId, appKey] of [['appkey-default-0001', 'defaultApp'], ['appkey-other-0001', 'noSuchApp']]) {
      const far = await uas('uas-busy.xml');
      expect((await gw.rest('/call/startup', { callId, appKey, callee: `sip:service@127.0.0.1:${far.sipPort}` })).status).toBe(200);
      const ev = await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'BUSY', 10_000);
      // The call keeps the appKey the client sent; its events go to webhook.defaultApp (callApp here).
      expect(ev.path).toBe('/CallStatusEvent');
      expect(ev.body.appKey).toBe(appKey);
    }
    const strict = await startTestGateway({ webhook: { apps: { callApp: hooks.baseUrl }, strictAppKey: true } });
    try {
      const r = await strict.rest('/call/startup', { appKey: 'defaultApp', callee: 'sip:service@127.0.0.1:5999' });
      expect(r.status).toBe(400);
      expect(r.body.message).toMatch(/^appKey: no application "defaultApp"/);
      expect((await strict.rest('/call/find_all', {})).status).toBe(404);
    } finally {
      await strict.close();
    }
  });
});
