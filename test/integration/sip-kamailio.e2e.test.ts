/**
 * Through a real registrar/proxy: Kamailio (digest auth from an htable)
 * started by the test. sipRegisterRequired → REGISTER (401 → 200), refresh
 * before expiry, unregister at the end; the INVITE is authenticated (407)
 * and loose-routed (Record-Route) to the far end; a wrong password ends the
 * call FAILED with the registrar's status.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startSippUas, type SippProcess } from '../helpers/sipp.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { freeUdpPort, freeUdpPortRange } from '../helpers/ports.js';
import { assertNoChildProcesses } from '../helpers/processes.js';
import { startKamailio, type Kamailio } from '../helpers/kamailio.js';
import { waitUntil } from '../helpers/wait.js';

let gw: TestGateway;
let hooks: WebhookReceiver;
let kam: Kamailio;
let far: SippProcess;

function statuses(callId: string): string[] {
  return hooks.events.filter((e) => e.path === '/CallStatusEvent' && e.body?.callId === callId).map((e) => e.body.status as string)
    .filter((s, i, a) => i === 0 || a[i - 1] !== s);
}

function registers(): { user: string; expires: number }[] {
  return [...kam.log().matchAll(/REGISTER ok user=(\S+) expires=(\d+)/g)].map((m) => ({ user: m[1] ?? '', expires: Number(m[2]) }));
}

beforeAll(async () => {
  hooks = await startWebhookReceiver();
  far = await startSippUas({ scenario: 'uas-answer-rr.xml', sipPort: await freeUdpPort(), mediaPort: await freeUdpPortRange(4) });
  kam = await startKamailio({
    port: await freeUdpPort(), domain: 'sip.test', users: { 10009: 'kam-secret' },
    routes: { conf: `sip:127.0.0.1:${far.sipPort}` },
  });
  gw = await startTestGateway({ webhook: { apps: { callApp: hooks.baseUrl } }, sip: { registerExpiresS: 10 } });
});

afterAll(async () => {
  await far?.close();
  await gw?.close();
  await kam?.close();
  await hooks?.close();
  await assertNoChildProcesses();
});

const viaKamailio = (extra: Record<string, unknown>): Record<string, unknown> => ({
  callee: 'conf', sipDomain: 'sip.test', sipOutboundProxy: '127.0.0.1', sipPort: kam.port,
  sipLogin: '10009', sipRegisterRequired: true, ...extra,
});

describe('Kamailio registrar and proxy with digest auth', () => {
  it('registers (401 → 200), calls through the proxy (407), refreshes, hangs up and unregisters', async () => {
    const callId = 'sip-kam-0001';
    const r = await gw.rest('/call/startup', viaKamailio({ callId, sipPassword: 'kam-secret' }));
    expect(r.status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 15_000);
    expect(registers()[0]).toEqual({ user: '10009', expires: 10 });
    // The INVITE was challenged by the proxy and reached SIPp with our credentials consumed.
    const invites = far.sipMessages().filter((m) => m.direction === 'received' && m.method === 'INVITE');
    expect(invites).toHaveLength(1);
    expect(invites[0]?.text).toMatch(/^Record-Route: <sip:127\.0\.0\.1:\d+;[^>]*\blr\b[^>]*>/m);
    expect(invites[0]?.text).not.toMatch(/Proxy-Authorization/i);
    expect(kam.log()).toMatch(/REQ INVITE sip:conf@sip\.test/);
    // Refresh half-way through the 10 s binding, while the call lives.
    await waitUntil(() => registers().filter((x) => x.expires > 0).length >= 2, 12_000, 100, 'a REGISTER refresh');
    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    await waitUntil(() => registers().some((x) => x.expires === 0), 5_000, 50, 'the unregister');
    // RegistrationStatusEvent: registered before the INVITE, unregistered after the call, each with the registrar's status.
    await hooks.waitFor((e) => e.path === '/RegistrationStatusEvent' && e.body?.callId === callId && e.body.status === 'UNREGISTERED', 5000);
    expect(hooks.events.filter((e) => e.path === '/RegistrationStatusEvent' && e.body?.callId === callId).map((e) => e.body)).toMatchObject([
      { status: 'REGISTERED', sipStatus: 200, sipLogin: '10009' }, { status: 'UNREGISTERED', sipStatus: 200, sipLogin: '10009' },
    ]);
    // (Kamailio's UDP workers may pass the 200 before the 180: RING is not guaranteed.)
    expect(statuses(callId).filter((s) => s !== 'RING')).toEqual(['PENDING', 'TRYING', 'ESTABLISHED', 'FINISH']);
    // BYE followed the route set through the proxy.
    expect(kam.log().split('\n').filter((l) => /REQ|REGISTER ok/.test(l)).join('\n')).toMatch(/REQ BYE /);
    expect(far.sipMessages().some((m) => m.direction === 'received' && m.method === 'BYE')).toBe(true);
  });

  it('a wrong password: the registration fails → FAILED with the registrar\'s 401, no INVITE sent', async () => {
    const callId = 'sip-kam-0002';
    await gw.rest('/call/startup', viaKamailio({ callId, sipPassword: 'wrong' }));
    const failed = await hooks.waitFor((e) => e.path === '/CallStatusEvent' && e.body?.callId === callId && e.body.status === 'FAILED', 10_000);
    expect(failed.body).toMatchObject({ sipStatus: 401 });
    const reg = await hooks.waitFor((e) => e.path === '/RegistrationStatusEvent' && e.body?.callId === callId, 5000);
    expect(reg.body).toMatchObject({ status: 'FAILED', sipStatus: 401 });
    expect(statuses(callId)).toEqual(['PENDING', 'FAILED']);
    expect(kam.log()).not.toMatch(new RegExp(`REQ INVITE .*\\n(?:.*\\n)*.*${callId}`));
  });
});
