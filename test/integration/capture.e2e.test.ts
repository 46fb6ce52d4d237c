/**
 * End to end with real peers on 127.0.0.1: a SIPp UAS answers with H.264 +
 * PCMA and plays real RTP; the gateway publishes to nginx-rtmp and to its
 * embedded node-media-server; ffprobe decodes both; a webhook receiver sees
 * the events in order; terminate sends BYE and ends the call.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync } from 'node:fs';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { SippFarEnds, type SippProcess } from '../helpers/sipp.js';
import { startNginxRtmp, type NginxRtmp } from '../helpers/nginx.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { probeStream } from '../helpers/ffprobe.js';
import { waitUntil } from '../helpers/wait.js';
import { assertNoChildProcesses } from '../helpers/processes.js';

let gw: TestGateway;
let nginx: NginxRtmp;
let hooks: WebhookReceiver;
const fars = new SippFarEnds();

function uas(scenario: string, extra: Parameters<SippFarEnds['uas']>[1] = {}): Promise<SippProcess> {
  return fars.uas(scenario, extra);
}

function statusesOf(callId: string): string[] {
  return hooks.events.filter((e) => e.body?.callId === callId).map((e) => `${e.body.status}${e.body.rtmpStreamStatus ? `/${e.body.rtmpStreamStatus}` : ''}`);
}

beforeAll(async () => {
  nginx = await startNginxRtmp();
  hooks = await startWebhookReceiver();
  gw = await startTestGateway({ webhook: { apps: { callApp: hooks.baseUrl } } });
});

afterAll(async () => {
  await fars.closeAll();
  await gw?.close();
  await nginx?.close();
  await hooks?.close();
  await assertNoChildProcesses();
});

describe('capture: SIP H.264 + G.711 → RTMP', () => {
  it('dials, publishes decodable H.264 + AAC to the external and embedded servers, and hangs up on terminate', async () => {
    const far = await uas('uas-answer.xml');
    const callId = 'e2e-capture-0001';
    const start = await gw.rest('/call/startup', {
      callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, sipLogin: '10009', visibleName: 'Capture',
      toStream: 'e2e_cap', rtmpUrl: nginx.rtmpUrl, rtmpStream: 'e2e_key', custom: { ticket: 42 },
    });
    expect(start.status).toBe(200);
    expect(start.body).toMatchObject({ callId, status: 'PENDING', toStream: 'e2e_cap', rtmpUrl: nginx.rtmpUrl, rtmpStream: 'e2e_key', custom: { ticket: 42 }, incoming: false });
    expect(start.body).not.toHaveProperty('sipPassword');

    await hooks.waitFor((e) => e.body?.callId === callId && e.body.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE', 20_000);
    const found = await gw.rest('/call/find', { callId });
    expect(found.status).toBe(200);
    expect(found.body[0]).toMatchObject({ status: 'ESTABLISHED', sipStatus: 200, audioCodec: 'PCMA/8000', videoCodec: 'H264/90000', rtmpStreamStatus: 'RTMP_STREAM_ACTIVE' });

    // The embedded server carries the same call under live/<toStream>.
    const embedded = await probeStream(`${gw.embeddedRtmpUrl}/e2e_cap`, { seconds: 6 });
    expect(embedded.errors).toEqual([]);
    expect(embedded.video).toMatchObject({ codec: 'h264', width: 320, height: 240 });
    expect(embedded.audio).toMatchObject({ codec: 'aac', sampleRate: 48000, channels: 1 });
    expect(embedded.video?.startsWithKeyframe).toBe(true);
    expect(embedded.durationS).toBeGreaterThanOrEqual(5);

    const term = await gw.rest('/call/terminate', { callId });
    expect(term.status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    await waitUntil(() => far.sipMessages().some((m) => m.direction === 'received' && m.method === 'BYE'), 5000, 50, 'BYE on the wire');
    expect((await gw.rest('/call/find', { callId })).status).toBe(404);

    // Events in order, each once: PENDING → TRYING → RING → ESTABLISHED(WAIT) → ACTIVE → FINISH.
    expect(statusesOf(callId)).toEqual([
      'PENDING', 'TRYING/RTMP_STREAM_WAIT', 'RING/RTMP_STREAM_WAIT', 'ESTABLISHED/RTMP_STREAM_WAIT', 'ESTABLISHED/RTMP_STREAM_ACTIVE', 'FINISH/RTMP_STREAM_ACTIVE',
    ]);
    const last = hooks.events.filter((e) => e.body?.callId === callId).at(-1);
    expect(last?.path).toBe('/CallStatusEvent');
    expect(last?.body).toMatchObject({ info: 'NORMAL_CALL_CLEARING', custom: { ticket: 42 } });

    // Every log line about this call carries its callId (pino child logger per call).
    const lines = gw.logs().filter((l) => JSON.stringify(l).includes(callId));
    expect(lines.length).toBeGreaterThan(5);
    expect(lines.filter((l) => l.callId !== callId).map((l) => l.msg)).toEqual([]);
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['sending INVITE', 'call established', 'call status']));

    // nginx recorded what the gateway published: H.264 + AAC, ≥ 5 s, decodes from its first frame.
    const file = await waitUntil(() => nginx.recordings().find((f) => f.includes('e2e_key')), 5000, 100, 'recording');
    expect(existsSync(file)).toBe(true);
    const rec = await probeStream(file);
    expect(rec.errors).toEqual([]);
    expect(rec.video).toMatchObject({ codec: 'h264', startsWithKeyframe: true });
    expect(rec.video?.frames).toBeGreaterThan(100);
    expect(rec.audio).toMatchObject({ codec: 'aac', sampleRate: 48000 });
    expect(rec.durationS).toBeGreaterThanOrEqual(5);
  });
});
