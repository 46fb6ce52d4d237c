/**
 * SPEC §5, §9.5: a far end answers an audio+video offer with audio only. The
 * audio must flow whatever happens to video, and per `transcode.placeholderVideo`
 * the output gets no video (`none`), a black track or an image track, so
 * platforms that demand video accept the stream.
 */
import { describe, it, expect, afterEach, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startSippUas, type SippProcess } from '../helpers/sipp.js';
import { probeStream } from '../helpers/ffprobe.js';
import { freeUdpPort, freeUdpPortRange } from '../helpers/ports.js';
import { waitUntil } from '../helpers/wait.js';
import { assertNoChildProcesses } from '../helpers/processes.js';

const SCENARIO = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/media/uas-audio-only.xml');

let gw: TestGateway | undefined;
let far: SippProcess | undefined;

afterEach(async () => {
  await gw?.close();
  await far?.close();
  gw = undefined;
  far = undefined;
});

afterAll(async () => {
  await assertNoChildProcesses();
});

async function audioOnlyCall(placeholderVideo: string, stream: string) {
  gw = await startTestGateway({ rtp: { generateMediaForUa: false }, transcode: { placeholderVideo } });
  far = await startSippUas({ scenario: SCENARIO, sipPort: await freeUdpPort(), mediaPort: await freeUdpPortRange(4) });
  expect((await gw.rest('/call/startup', { callee: `sip:service@127.0.0.1:${far.sipPort}`, toStream: stream })).status).toBe(200);
  const g = gw;
  await waitUntil(async () => (await g.rest('/call/find', { toStream: stream })).body[0]?.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE', 15_000, 200, 'stream active');
  expect((await g.rest('/call/find', { toStream: stream })).body[0]).toMatchObject({ audioCodec: 'PCMA/8000', videoCodec: null });
  return probeStream(`${g.embeddedRtmpUrl}/${stream}`, { seconds: 4 });
}

describe('audio-only answer', () => {
  it('placeholderVideo "none": audio flows alone', async () => {
    const p = await audioOnlyCall('none', 'ao_none');
    expect(p.errors).toEqual([]);
    expect(p.video).toBeNull();
    expect(p.audio).toMatchObject({ codec: 'aac', sampleRate: 48000 });
    expect(p.audio!.frames).toBeGreaterThan(150);
  });

  it('placeholderVideo "black": a 640×360 H.264 track starting on a keyframe, next to the audio', async () => {
    const p = await audioOnlyCall('black', 'ao_black');
    expect(p.errors).toEqual([]);
    expect(p.video).toMatchObject({ codec: 'h264', width: 640, height: 360, startsWithKeyframe: true });
    expect(p.video!.frames).toBeGreaterThan(30);
    expect(p.audio!.frames).toBeGreaterThan(150);
  });

  it('placeholderVideo = an image file: the image as the video track', async () => {
    const png = path.join(mkdtempSync(path.join(tmpdir(), 'slate-')), 'slate.png');
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=s=800x600', '-frames:v', '1', '-y', png]);
    const p = await audioOnlyCall(png, 'ao_image');
    expect(p.errors).toEqual([]);
    expect(p.video).toMatchObject({ codec: 'h264', width: 640, height: 360 });
    expect(p.audio!.frames).toBeGreaterThan(150);
  });
});
