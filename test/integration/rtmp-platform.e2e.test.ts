/**
 * Platform compliance with real peers on 127.0.0.1: RTMPS to a
 * TLS-terminating relay made here (certificate from openssl) in front of
 * nginx-rtmp; a far end whose H.264 GOP is 4 s (passed through): the gateway
 * reports that GOP and asks for keyframes on a 2 s cadence; AAC at 44.1 kHz
 * end to end; onMetaData with the real codec, size and rates, compared with
 * what ffprobe decodes.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startNginxRtmp, type NginxRtmp } from '../helpers/nginx.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { startCodecFarEnd, type CodecFarEnd } from '../helpers/media-far-end.js';
import { startTlsRelay, type TlsRelay } from '../helpers/rtmp-tls-relay.js';
import { probeMetadata } from '../helpers/rtmp-metadata.js';
import { makeTestPki, type TestPki } from '../helpers/tls.js';
import { probeStream } from '../helpers/ffprobe.js';
import { waitUntil } from '../helpers/wait.js';
import { assertNoChildProcesses } from '../helpers/processes.js';

let gw: TestGateway;
let nginx: NginxRtmp;
let hooks: WebhookReceiver;
let relay: TlsRelay;
let pki: TestPki;
let far: CodecFarEnd | undefined;

beforeAll(async () => {
  pki = await makeTestPki('rtmps-test-ingest');
  nginx = await startNginxRtmp();
  relay = await startTlsRelay({ host: '127.0.0.1', port: nginx.rtmpPort }, { cert: pki.pem.cert, key: pki.pem.key });
  hooks = await startWebhookReceiver();
  gw = await startTestGateway({
    webhook: { apps: { callApp: hooks.baseUrl } },
    transcode: { audioSampleRate: 44100 },
    rtmp: { tls: { ca: pki.caCert }, keyframeRequestIntervalMs: 2000 },
  });
}, 60_000);

afterAll(async () => {
  await far?.close();
  await gw?.close();
  await relay?.close();
  await nginx?.close();
  await hooks?.close();
  pki?.remove();
  await assertNoChildProcesses();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('RTMPS, keyframe cadence on passthrough, AAC 44.1 kHz, onMetaData', () => {
  it('publishes over RTMPS through a TLS-terminating relay; reports a 4 s far-end GOP and asks for keyframes every 2 s; 44.1 kHz AAC and real onMetaData', async () => {
    far = await startCodecFarEnd('pcma', 'h264');
    const callId = 'rtmp-platform-0001';
    expect((await gw.rest('/call/startup', {
      callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, toStream: 'plat_src',
      rtmpUrl: `rtmps://127.0.0.1:${relay.port}/live`, rtmpStream: 'plat_key',
    })).status).toBe(200);
    await far.sendMedia(13, undefined, { gop: 100 }); // 25 fps: a keyframe every 4 s
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE', 20_000);
    // The publish went through TLS (the relay only speaks TLS) and nginx got it.
    expect(relay.sessions).toBe(1);
    expect(relay.lastProtocol).toMatch(/^TLSv1\.[23]$/);
    await waitUntil(async () => (await nginx.publishers()).includes('plat_key'), 5000, 100, 'publisher on nginx');

    // Two GOPs of the far end: the GOP is measured and keyframes are asked for on cadence.
    const outputs = gw.gw.calls.registry.get(callId).outputs;
    await waitUntil(() => outputs.cadenceRequests >= 2, 14_000, 100, 'two keyframe requests on cadence');
    expect(outputs.sourceGopMs).toBeGreaterThanOrEqual(3800);
    expect(outputs.sourceGopMs).toBeLessThanOrEqual(4200);
    const logs = gw.logs().filter((l) => l.callId === callId);
    expect(logs.some((l) => l.msg === 'output GOP measured (far end keyframe interval)' && l.gopMs >= 3800 && l.gopMs <= 4200)).toBe(true);
    expect(logs.some((l) => l.msg === 'far end GOP longer than wanted: requesting keyframes on cadence' && l.wantedMs === 2000)).toBe(true);
    // The requests reached the RTP side as RTCP feedback (PLI/FIR).
    const sent = logs.filter((l) => l.msg === 'keyframe requested' && /keyframe cadence 2000 ms/.test(String(l.reason)));
    expect(sent.length).toBeGreaterThanOrEqual(2);
    expect(sent.map((l) => l.kind)).toContain('pli');
    // onMetaData as published (node-media-server hands it to HTTP-FLV viewers as it got it).
    const meta = await probeMetadata(`${gw.embeddedHttpUrl}/plat_src.flv`);

    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    await waitUntil(async () => !(await nginx.publishers()).includes('plat_key'), 8000, 100, 'unpublished');
    await sleep(300);

    // The recording: decodes from a keyframe, AAC 44.1 kHz, the far end's 4 s GOP passed through.
    const rec = nginx.recordings().filter((f) => f.includes('plat_key')).at(-1) as string;
    const probe = await probeStream(rec);
    expect(probe.errors).toEqual([]);
    expect(probe.video).toMatchObject({ codec: 'h264', width: 320, height: 240, startsWithKeyframe: true });
    expect(probe.audio).toMatchObject({ codec: 'aac', sampleRate: 44100, channels: 1 });
    expect(probe.durationS).toBeGreaterThan(6);
    // onMetaData: the real codec ids, picture size and audio rate, as ffprobe decodes them.
    expect(meta).toMatchObject({
      videocodecid: 7, width: probe.video?.width, height: probe.video?.height,
      audiocodecid: 10, audiosamplerate: probe.audio?.sampleRate, audiochannels: 1, stereo: false,
    });
  }, 80_000);
});
