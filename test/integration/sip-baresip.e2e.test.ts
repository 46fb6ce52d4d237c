/**
 * A real softphone behind a real registrar: baresip registers with Kamailio
 * (digest from an htable) and auto-answers; the gateway registers too
 * (sipRegisterRequired: 401 → 200), calls it through the proxy (INVITE
 * challenged with 407), refreshes its binding while the call lives, hangs
 * up and unregisters. A wrong password ends the call FAILED with the 401.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { freeUdpPort, freeUdpPortRange } from '../helpers/ports.js';
import { assertNoChildProcesses } from '../helpers/processes.js';
import { startKamailio, type Kamailio } from '../helpers/kamailio.js';
import { startBaresip, type Baresip } from '../helpers/baresip.js';
import { waitUntil } from '../helpers/wait.js';

let gw: TestGateway;
let hooks: WebhookReceiver;
let kam: Kamailio;
let phone: Baresip;

function statuses(callId: string): string[] {
  return hooks.events.filter((e) => e.path === '/CallStatusEvent' && e.body?.callId === callId).map((e) => e.body.status as string)
    .filter((s, i, a) => i === 0 || a[i - 1] !== s);
}

/** Expires of each accepted REGISTER of `user` (baresip puts it in the Contact: NaN there). */
function registers(user: string): number[] {
  return [...kam.log().matchAll(/REGISTER ok user=(\S+) expires=(\S+)/g)].filter((m) => m[1] === user).map((m) => Number(m[2]));
}

beforeAll(async () => {
  hooks = await startWebhookReceiver();
  kam = await startKamailio({ port: await freeUdpPort(), domain: 'sip.test', users: { 10009: 'kam-secret', conf: 'bs-secret' } });
  phone = await startBaresip({
    sipPort: await freeUdpPort(), rtpMin: await freeUdpPortRange(10), user: 'conf', domain: 'sip.test', password: 'bs-secret', registrarPort: kam.port,
  });
  gw = await startTestGateway({ webhook: { apps: { callApp: hooks.baseUrl } }, sip: { registerExpiresS: 10 } });
  // baresip's own registration (401 → 200) must be in place before anyone can reach it.
  await waitUntil(() => registers('conf').length > 0, 10_000, 50, 'baresip registered at Kamailio');
});

afterAll(async () => {
  if (process.env.DEBUG_BARESIP) console.log(phone?.log().slice(-8000));
  await gw?.close();
  await phone?.close();
  await kam?.close();
  await hooks?.close();
  await assertNoChildProcesses();
});

const call = (extra: Record<string, unknown>): Record<string, unknown> => ({
  callee: 'conf', sipDomain: 'sip.test', sipOutboundProxy: '127.0.0.1', sipPort: kam.port,
  sipLogin: '10009', sipRegisterRequired: true, hasVideo: false, ...extra,
});

describe('baresip auto-answering behind Kamailio', () => {
  it('registers (401 → 200), reaches baresip through the proxy (407), refreshes, hangs up and unregisters', async () => {
    const callId = 'sip-baresip-0001';
    expect((await gw.rest('/call/startup', call({ callId, sipPassword: 'kam-secret' }))).status).toBe(200);
    const est = await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 15_000);
    expect(est.body).toMatchObject({ sipStatus: 200, audioCodec: 'PCMA/8000' });
    expect(registers('10009')[0]).toBe(10);
    // Kamailio challenged the INVITE (407) and relayed the authenticated one to the registered contact.
    await phone.waitFor(/answering call on line \d+ from sip:10009@sip\.test/, 5000);
    expect(phone.log()).toMatch(/INVITE sip:conf-\S*@127\.0\.0\.1:\d+/);
    expect(phone.log()).toMatch(/From: "10009" <sip:10009@sip\.test>/);
    expect(kam.log().match(/REQ INVITE sip:conf@sip\.test/g)?.length).toBeGreaterThanOrEqual(2);
    // Refresh half-way through the 10 s binding while the call lives.
    await waitUntil(() => registers('10009').filter((x) => x > 0).length >= 2, 12_000, 100, 'a REGISTER refresh');
    expect(statuses(callId).at(-1)).toBe('ESTABLISHED');
    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    await waitUntil(() => registers('10009').includes(0), 5000, 50, 'the unregister');
    await phone.waitFor(/BYE sip:conf-\S*@127\.0\.0\.1/, 5000);
    expect(statuses(callId).filter((s) => s !== 'RING')).toEqual(['PENDING', 'TRYING', 'ESTABLISHED', 'FINISH']);
  });

  it('a wrong password → FAILED with the registrar\'s 401; baresip never rings', async () => {
    const callId = 'sip-baresip-0002';
    const before = (phone.log().match(/answering call on line \d+ from sip:10009@sip\.test/g) ?? []).length;
    await gw.rest('/call/startup', call({ callId, sipPassword: 'wrong' }));
    const failed = await hooks.waitFor((e) => e.path === '/CallStatusEvent' && e.body?.callId === callId && e.body.status === 'FAILED', 10_000);
    expect(failed.body).toMatchObject({ sipStatus: 401 });
    expect(statuses(callId)).toEqual(['PENDING', 'FAILED']);
    expect((phone.log().match(/answering call on line \d+ from sip:10009@sip\.test/g) ?? []).length).toBe(before);
  });
});
