/**
 * baresip 1.0 as a real softphone sending live x264 video (baresip-ffmpeg:
 * lavfi testsrc2 640×360 at 25 fps, libx264) and G.711 audio, directly and
 * behind Kamailio. It answers our H.264 offer with its own payload-type
 * number and sends video under one of ours (RFC 3264 §5.1 allows it), so the
 * gateway must receive by the offer it sent. The outputs — the request's
 * nginx target (its recording), the embedded server and a /push target —
 * must decode H.264 *frames* from baresip's video plus AAC.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { startNginxRtmp, type NginxRtmp } from '../helpers/nginx.js';
import { startBaresip as startDirectBaresip } from '../helpers/media-baresip.js';
import { startBaresip as startRegisteredBaresip } from '../helpers/baresip.js';
import { startKamailio, type Kamailio } from '../helpers/kamailio.js';
import { probeStream } from '../helpers/ffprobe.js';
import { freeUdpPort, freeUdpPortRange } from '../helpers/ports.js';
import { waitUntil } from '../helpers/wait.js';
import { assertNoChildProcesses } from '../helpers/processes.js';

let gw: TestGateway;
let hooks: WebhookReceiver;
let nginx: NginxRtmp;
let kam: Kamailio;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  hooks = await startWebhookReceiver();
  nginx = await startNginxRtmp();
  kam = await startKamailio({ port: await freeUdpPort(), domain: 'sip.test', users: { 10009: 'kam-secret', room: 'room-secret' } });
  gw = await startTestGateway({ webhook: { apps: { callApp: hooks.baseUrl } } });
});

afterAll(async () => {
  for (const c of closers.reverse()) await c();
  await gw?.close();
  await kam?.close();
  await nginx?.close();
  await hooks?.close();
  await assertNoChildProcesses();
});

/** Waits for ESTABLISHED + ACTIVE and for baresip's video to flow through the gateway. */
async function live(callId: string): Promise<void> {
  await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED' && e.body.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE', 20_000);
  await waitUntil(() => (gw.gw.calls.registry.get(callId).stats().rtp.video?.packets ?? 0) > 300, 15_000, 100, 'baresip video RTP received');
  const video = gw.gw.calls.registry.get(callId).stats().rtp.video;
  // Every packet was taken: none under a payload type we do not receive.
  expect(video?.unexpectedPayloadType).toBe(0);
}

function expectFramesAndAac(p: Awaited<ReturnType<typeof probeStream>>, minFrames: number): void {
  expect(p.errors).toEqual([]);
  expect(p.video).toMatchObject({ codec: 'h264', width: 640, height: 360 });
  expect(p.video?.frames).toBeGreaterThan(minFrames);
  expect(p.audio).toMatchObject({ codec: 'aac', sampleRate: 48000 });
}

describe('baresip sending live H.264 video', () => {
  it('direct: the request\'s target, the embedded server and a /push target decode its video frames and AAC', async () => {
    const phone = await startDirectBaresip({ rtpTimeoutS: 0, video: true });
    closers.push(() => phone.close());
    const callId = 'baresip-video-1';
    expect((await gw.rest('/call/startup', { callId, callee: phone.uri, toStream: 'bs_video', rtmpUrl: nginx.rtmpUrl, rtmpStream: 'bs_video' })).status).toBe(200);
    await live(callId);
    expect((await gw.rest('/call/find', { callId })).body[0]).toMatchObject({ videoCodec: 'H264/90000', audioCodec: 'PCMA/8000' });
    const push = await gw.rest('/push/startup', { streamName: 'bs_video', rtmpUrl: `${nginx.rtmpUrl}/bs_push` });
    expect(push.status).toBe(200);
    await hooks.waitFor((e) => e.path === '/PushStatusEvent' && e.body?.mediaSessionId === push.body.mediaSessionId && e.body.status === 'RTMP_STREAM_ACTIVE', 10_000);
    // The embedded server serves its players from the call's cached GOP: frames at once.
    const embedded = await probeStream(`${gw.embeddedRtmpUrl}/bs_video`, { seconds: 4 });
    expectFramesAndAac(embedded, 30);
    expect(embedded.video?.startsWithKeyframe).toBe(true);
    await new Promise((r) => setTimeout(r, 3000));
    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    // nginx recorded the request's target and the push, each from its first frame (a late
    // nginx player would wait for baresip's next keyframe; the recordings need none).
    for (const name of ['bs_video', 'bs_push']) {
      const file = await waitUntil(() => nginx.recordings().find((f) => f.includes(`${name}-`)), 5000, 100, `recording of ${name}`);
      const rec = await probeStream(file);
      expectFramesAndAac(rec, name === 'bs_video' ? 100 : 50);
      expect(rec.video?.startsWithKeyframe).toBe(true);
    }
  });

  it('behind Kamailio (registered, digest): the output decodes its video frames and AAC', async () => {
    const phone = await startRegisteredBaresip({
      sipPort: await freeUdpPort(), rtpMin: await freeUdpPortRange(10), user: 'room', domain: 'sip.test', password: 'room-secret', registrarPort: kam.port, video: true,
    });
    closers.push(() => phone.close());
    await waitUntil(() => /REGISTER ok user=room/.test(kam.log()), 10_000, 50, 'baresip registered at Kamailio');
    const callId = 'baresip-video-2';
    expect((await gw.rest('/call/startup', {
      callId, callee: 'room', sipDomain: 'sip.test', sipOutboundProxy: '127.0.0.1', sipPort: kam.port,
      sipLogin: '10009', sipPassword: 'kam-secret', toStream: 'bs_kam', rtmpUrl: nginx.rtmpUrl, rtmpStream: 'bs_kam',
    })).status).toBe(200);
    await live(callId);
    const embedded = await probeStream(`${gw.embeddedRtmpUrl}/bs_kam`, { seconds: 4 });
    expectFramesAndAac(embedded, 30);
    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    const file = await waitUntil(() => nginx.recordings().find((f) => f.includes('bs_kam-')), 5000, 100, 'recording');
    expectFramesAndAac(await probeStream(file), 60);
  });
});
