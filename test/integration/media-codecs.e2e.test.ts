/**
 * Every audio codec in (SPEC §5): a SIPp far end answers with the codec and
 * ffmpeg sends real RTP (H.264 video + Opus / G.722 / PCMU / Speex audio);
 * ffprobe decodes H.264 + AAC 48 kHz from the embedded RTMP server for each,
 * all calls at once on one gateway.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startCodecFarEnd, type CodecFarEnd, type FarAudioCodec, type FarVideoCodec } from '../helpers/media-far-end.js';
import { probeStream } from '../helpers/ffprobe.js';
import { waitUntil } from '../helpers/wait.js';
import { assertNoChildProcesses } from '../helpers/processes.js';

let gw: TestGateway;
const fars: CodecFarEnd[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ rtp: { generateMediaForUa: false } });
});

afterAll(async () => {
  await gw?.close();
  for (const f of fars) await f.close();
  await assertNoChildProcesses();
});

async function call(audio: FarAudioCodec, stream: string, video: FarVideoCodec = 'h264', extra: { body?: object; gop?: number } = {}): Promise<CodecFarEnd> {
  // Media is sent to the gateway's offer ports once the call is up; 20 s covers the probes.
  const far = await startCodecFarEnd(audio, video);
  fars.push(far);
  const r = await gw.rest('/call/startup', { callee: `sip:service@127.0.0.1:${far.sipPort}`, toStream: stream, ...extra.body });
  expect(r.status).toBe(200);
  await far.sendMedia(20, undefined, extra.gop === undefined ? {} : { gop: extra.gop });
  return far;
}

describe('codecs in → H.264 + AAC out', () => {
  it('VP8 + Opus: VP8 becomes H.264 with a keyframe every 2 s, Opus becomes AAC', async () => {
    await call('opus', 'codec_vp8', 'vp8');
    await waitUntil(async () => (await gw.rest('/call/find', { toStream: 'codec_vp8' })).body[0]?.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE', 15_000, 200, 'active stream');
    expect((await gw.rest('/call/find', { toStream: 'codec_vp8' })).body[0]).toMatchObject({ videoCodec: 'VP8/90000', audioCodec: 'opus/48000' });
    const p = await probeStream(`${gw.embeddedRtmpUrl}/codec_vp8`, { seconds: 5 });
    expect(p.errors).toEqual([]);
    expect(p.video).toMatchObject({ codec: 'h264', width: 320, height: 240, startsWithKeyframe: true });
    expect(p.video!.frames).toBeGreaterThan(100);
    expect(p.video!.keyframes).toBeGreaterThanOrEqual(2);
    expect(p.video!.keyframes).toBeLessThanOrEqual(4);
    expect(p.audio).toMatchObject({ codec: 'aac', sampleRate: 48000 });
    const vp8Call = gw.gw.calls.registry.all().find((c) => c.toStream === 'codec_vp8');
    await gw.rest('/call/terminate', { callId: vp8Call!.callId });
  });

  it('Opus, G.722, PCMU and Speex 16 kHz calls each publish decodable H.264 + AAC 48 kHz', async () => {
    const codecs: [FarAudioCodec, string][] = [['opus', 'opus/48000'], ['g722', 'G722/8000'], ['pcmu', 'PCMU/8000'], ['speex16', 'speex/16000']];
    await Promise.all(codecs.map(([c]) => call(c, `codec_${c}`)));
    await waitUntil(async () => (await gw.rest('/call/find_all', {})).body.filter((c: { rtmpStreamStatus: string }) => c.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE').length === 4, 15_000, 200, 'four active streams');
    const all = (await gw.rest('/call/find_all', {})).body as { toStream: string; audioCodec: string; videoCodec: string }[];
    for (const [c, name] of codecs) expect(all.find((x) => x.toStream === `codec_${c}`)).toMatchObject({ audioCodec: name, videoCodec: 'H264/90000' });
    const probes = await Promise.all(codecs.map(([c]) => probeStream(`${gw.embeddedRtmpUrl}/codec_${c}`, { seconds: 4 })));
    probes.forEach((p, i) => {
      const label = codecs[i]![0];
      expect({ label, errors: p.errors }).toEqual({ label, errors: [] });
      expect(p.video, label).toMatchObject({ codec: 'h264', width: 320, height: 240, startsWithKeyframe: true });
      expect(p.audio, label).toMatchObject({ codec: 'aac', sampleRate: 48000, channels: 1 });
      expect(p.audio!.frames, label).toBeGreaterThan(100);
    });
  });

  it('transcode.audio "copy": PCMU and Speex go into FLV as they are; Opus still becomes AAC, the only track re-encoded', async () => {
    await gw.close();
    gw = await startTestGateway({ rtp: { generateMediaForUa: false }, transcode: { audio: 'copy' } });
    const codecs: FarAudioCodec[] = ['pcmu', 'speex16', 'opus'];
    await Promise.all(codecs.map((c) => call(c, `copy_${c}`)));
    await waitUntil(async () => (await gw.rest('/call/find_all', {})).body.filter((c: { rtmpStreamStatus: string }) => c.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE').length === 3, 15_000, 200, 'three active streams');
    const transcoders = Object.fromEntries(gw.gw.calls.registry.all().map((c) => [c.toStream, c.transcoders]));
    // Only Opus is re-encoded (in-process, on a codec worker thread); H.264 passes.
    expect(transcoders).toEqual({ copy_pcmu: [], copy_speex16: [], copy_opus: ['audio'] });
    const [pcmu, speex, opus] = await Promise.all(codecs.map((c) => probeStream(`${gw.embeddedRtmpUrl}/copy_${c}`, { seconds: 4 })));
    expect(pcmu!.errors).toEqual([]);
    expect(pcmu!.audio).toMatchObject({ codec: 'pcm_mulaw', sampleRate: 8000, channels: 1 });
    expect(pcmu!.video).toMatchObject({ codec: 'h264', startsWithKeyframe: true });
    expect(speex!.errors).toEqual([]);
    expect(speex!.audio).toMatchObject({ codec: 'speex', sampleRate: 16000 });
    expect(opus!.audio).toMatchObject({ codec: 'aac', sampleRate: 48000 });
  });
});

describe('transcodeVideo: the far end\'s H.264 re-encoded', () => {
  it('a keyframe every 2 s although the far end sends one every 10 s, scaled to the transcode.videoMax* cap; without the flag it passes', async () => {
    await gw.close();
    gw = await startTestGateway({ rtp: { generateMediaForUa: false }, transcode: { videoMaxWidth: 160, videoMaxHeight: 160 } });
    await call('pcmu', 'reencoded', 'h264', { body: { transcodeVideo: true }, gop: 250 });
    await call('pcmu', 'passed', 'h264', { gop: 250 });
    await waitUntil(async () => (await gw.rest('/call/find_all', {})).body.filter((c: { rtmpStreamStatus: string }) => c.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE').length === 2, 15_000, 200, 'two active streams');
    const transcoders = Object.fromEntries(gw.gw.calls.registry.all().map((c) => [c.toStream, [...c.transcoders].sort()]));
    expect(transcoders).toEqual({ reencoded: ['audio', 'video'], passed: ['audio'] });
    const [re, passed] = await Promise.all(['reencoded', 'passed'].map((s) => probeStream(`${gw.embeddedRtmpUrl}/${s}`, { seconds: 5 })));
    expect(re!.errors).toEqual([]);
    expect(re!.video).toMatchObject({ codec: 'h264', width: 160, height: 120, startsWithKeyframe: true });
    expect(re!.video!.frames).toBeGreaterThan(100);
    expect(re!.video!.keyframes).toBeGreaterThanOrEqual(2);
    expect(re!.video!.keyframes).toBeLessThanOrEqual(4);
    // Passed through: the far end's own size, and no keyframe beyond the one a new viewer starts on.
    expect(passed!.video).toMatchObject({ codec: 'h264', width: 320, height: 240, startsWithKeyframe: true });
    expect(passed!.video!.keyframes).toBeLessThanOrEqual(1);
  });
});
