/**
 * Viewing with real peers on 127.0.0.1: HLS per call on the REST port
 * (playlist within a few seconds of ESTABLISHED, decoded by ffprobe, gone
 * after the call), and the embedded node-media-server's signed URLs
 * (publishing only from the gateway, play protected when configured, the
 * same signature for RTMP and HLS), with onMetaData's real values.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startSippUas, type SippProcess } from '../helpers/sipp.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { probeStream } from '../helpers/ffprobe.js';
import { probeMetadata } from '../helpers/rtmp-metadata.js';
import { run } from '../helpers/proc.js';
import { freeUdpPort, freeUdpPortRange } from '../helpers/ports.js';
import { waitUntil } from '../helpers/wait.js';
import { assertNoChildProcesses } from '../helpers/processes.js';
import { signStreamPath } from '../../src/rtmp/index.js';

let gw: TestGateway;
let hooks: WebhookReceiver;
let far: SippProcess | undefined;
const SECRET = 'e2e-viewer-secret-0123456789';

beforeAll(async () => {
  hooks = await startWebhookReceiver();
  gw = await startTestGateway({
    webhook: { apps: { callApp: hooks.baseUrl } },
    rtmp: { embedded: { auth: { secret: SECRET, publish: true, play: true } } },
  });
});

afterAll(async () => {
  await far?.close();
  await gw?.close();
  await hooks?.close();
  await assertNoChildProcesses();
});

describe('HLS per call and the embedded server’s signed URLs', () => {
  it('serves /hls/<toStream>/index.m3u8 within seconds of ESTABLISHED, decodable, signed, gone after the call; the embedded server takes publishing from the gateway only', async () => {
    far = await startSippUas({ scenario: 'uas-answer.xml', sipPort: await freeUdpPort(), mediaPort: await freeUdpPortRange(4), vars: { video_loops: '3' } });
    const callId = 'rtmp-hls-0001';
    const name = 'hls_call';
    expect((await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, toStream: name })).status).toBe(200);
    const established = await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 20_000);
    const sign = signStreamPath(`/live/${name}`, SECRET, Date.now() / 1000 + 600);
    const playlistUrl = `${gw.baseUrl}/hls/${name}/index.m3u8`;

    // The playlist appears within a few seconds (first 2 s segment finished).
    let text = '';
    await waitUntil(async () => {
      const r = await fetch(`${playlistUrl}?sign=${sign}`);
      text = await r.text();
      return r.status === 200;
    }, 8000, 100, 'HLS playlist');
    expect(Date.now() - established.at).toBeLessThan(7000);
    expect(text).toMatch(/^#EXTM3U\n/);
    expect(text).toMatch(/#EXT-X-TARGETDURATION:2\n/);
    expect(text).toContain(`.ts?sign=${sign}`);
    const extinf = [...text.matchAll(/#EXTINF:([\d.]+),/g)].map((m) => Number(m[1]));
    for (const d of extinf) expect(d).toBeGreaterThan(1.5);

    // Play protection: no or a bad signature → 403 (playlist and segments).
    expect((await fetch(playlistUrl)).status).toBe(403);
    expect((await fetch(`${playlistUrl}?sign=1-00000000000000000000000000000000`)).status).toBe(403);
    const seg = /^(\d+\.ts)/m.exec(text)?.[1] as string;
    expect((await fetch(`${gw.baseUrl}/hls/${name}/${seg}`)).status).toBe(403);
    const segRes = await fetch(`${gw.baseUrl}/hls/${name}/${seg}?sign=${sign}`);
    expect(segRes.status).toBe(200);
    expect(segRes.headers.get('content-type')).toBe('video/mp2t');
    expect(segRes.headers.get('access-control-allow-origin')).toBe('*');
    expect((await fetch(`${gw.baseUrl}/hls/nope/index.m3u8?sign=${sign}`)).status).toBe(403);

    // ffprobe decodes the live HLS stream from its first frame.
    const hls = await probeStream(`${playlistUrl}?sign=${sign}`, { seconds: 3 });
    expect(hls.errors).toEqual([]);
    expect(hls.video).toMatchObject({ codec: 'h264', width: 320, height: 240, startsWithKeyframe: true });
    expect(hls.audio).toMatchObject({ codec: 'aac', sampleRate: 48000 });
    expect(hls.video?.frames).toBeGreaterThan(40);

    // Embedded RTMP: the gateway's own (signed) publish is accepted; viewers need the signature.
    const rtmp = `${gw.embeddedRtmpUrl}/${name}`;
    const unsigned = await probeStream(rtmp, { seconds: 1, timeoutMs: 8000 });
    expect(unsigned.video).toBeNull();
    const signed = await probeStream(`${rtmp}?sign=${sign}`, { seconds: 2 });
    expect(signed.errors).toEqual([]);
    expect(signed.video).toMatchObject({ codec: 'h264', startsWithKeyframe: true });
    // onMetaData carries the real codec, size and rates.
    const meta = await probeMetadata(`${gw.embeddedHttpUrl}/${name}.flv?sign=${sign}`);
    expect(meta).toMatchObject({ width: 320, height: 240, videocodecid: 7, audiocodecid: 10, audiosamplerate: 48000 });

    // Anyone else publishing to the embedded server is refused (no signature).
    const intruder = await run('ffmpeg', [
      '-hide_banner', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=s=160x120:r=10', '-t', '3',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-f', 'flv', `${gw.embeddedRtmpUrl}/intruder`,
    ], { timeoutMs: 15_000 });
    expect(intruder.code).not.toBe(0);
    expect(gw.logs().some((l) => typeof l.msg === 'string' && /publish stream \/live\/intruder authentication verification failed/.test(l.msg))).toBe(true);

    // Gone once the call ends.
    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    expect((await fetch(`${playlistUrl}?sign=${sign}`)).status).toBe(404);
    expect((await fetch(`${gw.baseUrl}/hls/${name}/${seg}?sign=${sign}`)).status).toBe(404);
  }, 80_000);
});
