/**
 * REST bad input (SPEC §2): every bad request gets its code and a clear
 * message in the error body, while a live call with real media carries on.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startSippUas, type SippProcess } from '../helpers/sipp.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { probeStream } from '../helpers/ffprobe.js';
import { freeUdpPort, freeUdpPortRange } from '../helpers/ports.js';
import { assertNoChildProcesses } from '../helpers/processes.js';

let gw: TestGateway;
let hooks: WebhookReceiver;
let far: SippProcess;
const live = { callId: 'live-call-0001', toStream: 'live_stream', rtmpUrl: '', rtmpStream: 'live_key' };

beforeAll(async () => {
  hooks = await startWebhookReceiver();
  gw = await startTestGateway({ webhook: { apps: { callApp: hooks.baseUrl } } });
  far = await startSippUas({ scenario: 'uas-answer.xml', sipPort: await freeUdpPort(), mediaPort: await freeUdpPortRange(4) });
  // The live call publishes to the embedded server twice over: as its own toStream and as the "external" target.
  live.rtmpUrl = gw.embeddedRtmpUrl;
  const res = await gw.rest('/call/startup', { ...live, callee: `sip:service@127.0.0.1:${far.sipPort}` });
  expect(res.status).toBe(200);
  await hooks.waitFor((e) => e.body?.callId === live.callId && e.body.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE', 20_000);
});

afterAll(async () => {
  await far?.close();
  await gw?.close();
  await hooks?.close();
  await assertNoChildProcesses();
});

function expectError(res: { status: number; body: any }, status: number, message: RegExp | string, route = '/rest-api/call/startup'): void {
  expect(res.status).toBe(status);
  expect(res.body).toMatchObject({ status, path: route });
  expect(typeof res.body.error).toBe('string');
  expect(typeof res.body.timestamp).toBe('number');
  if (typeof message === 'string') expect(res.body.message).toBe(message);
  else expect(res.body.message).toMatch(message);
}

describe('REST bad input leaves live calls untouched', () => {
  it('invalid JSON → 400', async () => {
    expectError(await gw.rest('/call/startup', '{"callee": ', { raw: true }), 400, /invalid JSON/);
  });
  it('a body that is not an object → 400', async () => {
    expectError(await gw.rest('/call/startup', '[1,2]', { raw: true }), 400, /JSON object/);
  });
  it('missing callee → 400 naming the field', async () => {
    expectError(await gw.rest('/call/startup', { sipDomain: 'example.com' }), 400, /callee/);
  });
  it('bad rtmpUrl → 400 naming the field', async () => {
    expectError(await gw.rest('/call/startup', { callee: '1', sipDomain: 'x.org', rtmpUrl: 'http://host/live' }), 400, /rtmpUrl/);
    expectError(await gw.rest('/call/startup', { callee: '1', sipDomain: 'x.org', rtmpUrl: 'rtmp://' }), 400, /rtmpUrl/);
  });
  it('bad toStream and wrongly typed fields → 400 naming the field', async () => {
    expectError(await gw.rest('/call/startup', { callee: '1', sipDomain: 'x.org', toStream: 'a b' }), 400, /toStream/);
    expectError(await gw.rest('/call/startup', { callee: '1', sipDomain: 'x.org', hasVideo: 'maybe' }), 400, /hasVideo/);
    expectError(await gw.rest('/call/startup', { callee: '1', sipDomain: 'x.org', sipPort: 'abc' }), 400, /sipPort/);
  });
  it('stripCodecs naming an unknown codec, or leaving nothing to offer → 400 naming the field', async () => {
    const unknown = await gw.rest('/call/startup', { callee: 'sip:x@127.0.0.1:9', stripCodecs: 'PCMU,SILK' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toBe('stripCodecs: unknown codec "SILK"');
    const all = await gw.rest('/call/startup', { callee: 'sip:x@127.0.0.1:9', stripCodecs: ['opus', 'PCMA', 'pcmu', 'G722', 'speex', 'h264', 'VP8'] });
    expect(all.status).toBe(400);
    expect(all.body.message).toMatch(/^stripCodecs: leaves no audio or video codec/);
  });

  it('reserved symbols in sipLogin or sipAuthenticationName → 400 with the WCS message', async () => {
    for (const bad of [{ sipLogin: 'john doe' }, { sipLogin: '<10009>' }, { sipAuthenticationName: 'a"b' }, { sipLogin: 'a@b' }]) {
      expectError(await gw.rest('/call/startup', { callee: '1', sipDomain: 'x.org', ...bad }), 400, 'SIP login or authentication name contains reserved symbols');
    }
  });
  it('duplicate callId, toStream or rtmpUrl+rtmpStream of a live call → 409', async () => {
    const base = { callee: '1', sipDomain: '127.0.0.1', sipPort: 9 };
    expectError(await gw.rest('/call/startup', { ...base, callId: live.callId }), 409, /callId/);
    expectError(await gw.rest('/call/startup', { ...base, toStream: live.toStream }), 409, /live_stream/);
    expectError(await gw.rest('/call/startup', { ...base, rtmpUrl: live.rtmpUrl, rtmpStream: live.rtmpStream }), 409, /already published/);
  });
  it('body over 64 KiB → 413; unknown route → 404; terminate/send_dtmf of an unknown call → 404', async () => {
    expectError(await gw.rest('/call/startup', { callee: '1', custom: { pad: 'x'.repeat(70_000) } }), 413, /larger than/);
    expectError(await gw.rest('/call/nope', {}), 404, /no route/, '/rest-api/call/nope');
    expectError(await gw.rest('/call/terminate', { callId: 'nope' }), 404, /not found/, '/rest-api/call/terminate');
    expectError(await gw.rest('/call/send_dtmf', { callId: 'nope', dtmf: '1' }), 404, /not found/, '/rest-api/call/send_dtmf');
    expectError(await gw.rest('/call/send_dtmf', { callId: live.callId, dtmf: 'xyz' }), 400, /dtmf/, '/rest-api/call/send_dtmf');
  });
  it('WCS-style string booleans and numbers are accepted', async () => {
    const res = await gw.rest('/call/find', { callId: live.callId });
    expect(res.status).toBe(200);
    const far2 = await startSippUas({ scenario: 'uas-busy.xml', sipPort: await freeUdpPort(), mediaPort: await freeUdpPortRange(4) });
    try {
      const r = await gw.rest('/call/startup', { callee: 'service', sipDomain: '127.0.0.1', sipPort: String(far2.sipPort), hasVideo: 'false', hasAudio: 'true' });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ hasVideo: false, hasAudio: true, callee: 'service' });
      await hooks.waitFor((e) => e.body?.callId === r.body.callId && e.body.status === 'BUSY', 10_000);
      expect(r.body.callId).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    } finally {
      await far2.close();
    }
  });
  it('serves /healthz and /metrics beside the REST API', async () => {
    const h = await fetch(`${gw.baseUrl}/healthz`);
    expect(h.status).toBe(200);
    expect(await h.json()).toEqual({ status: 'ok', cluster: null });
    const m = await (await fetch(`${gw.baseUrl}/metrics`)).text();
    expect(m).toMatch(/^gateway_calls_live 1$/m);
    expect(m).toMatch(/gateway_rest_requests_total\{route="\/rest-api\/call\/startup",status="409"\} 3/);
  });

  it('after all of it the live call is still ESTABLISHED and its stream still decodes', async () => {
    const res = await gw.rest('/call/find', { callId: live.callId });
    expect(res.body[0]).toMatchObject({ status: 'ESTABLISHED', rtmpStreamStatus: 'RTMP_STREAM_ACTIVE' });
    const probe = await probeStream(`${gw.embeddedRtmpUrl}/${live.toStream}`, { seconds: 2 });
    expect(probe.errors).toEqual([]);
    expect(probe.video?.frames).toBeGreaterThan(20);
    expect(probe.audio?.frames).toBeGreaterThan(20);
    expect(hooks.events.filter((e) => e.body?.callId === live.callId).map((e) => e.body.status)).not.toContain('FINISH');
    expect((await gw.rest('/call/terminate', { callId: live.callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === live.callId && e.body.status === 'FINISH', 10_000);
  });
});
