/**
 * Timestamps across hold, a codec change and an SSRC change (SPEC §5): a
 * SIPp far end answers PCMA + H.264, ffmpeg sends media; the far end holds
 * the call (re-INVITE sendonly, media stops for longer than
 * rtpActivityTimeoutMs, which must not end the call on hold), then resumes
 * with PCMU, and a new ffmpeg sends with new SSRCs. The RTMP output, read
 * across all of it, decodes with no errors, keeps monotonic timestamps and
 * carries audio and video after the change.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startSippUas, type SippProcess } from '../helpers/sipp.js';
import { ffmpegRtpArgs, offerPorts } from '../helpers/media-far-end.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { probeStream } from '../helpers/ffprobe.js';
import { spawnChild, stopChild } from '../helpers/proc.js';
import { freeUdpPort, freeUdpPortRange } from '../helpers/ports.js';
import { waitUntil } from '../helpers/wait.js';
import { assertNoChildProcesses } from '../helpers/processes.js';

const SCENARIO = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/media/uas-codec-switch.xml');

let gw: TestGateway;
let hooks: WebhookReceiver;
let sipp: SippProcess | undefined;
const children: ReturnType<typeof spawnChild>[] = [];

beforeAll(async () => {
  hooks = await startWebhookReceiver();
  gw = await startTestGateway({ rtp: { generateMediaForUa: false, rtpActivityTimeoutMs: 3000 }, webhook: { apps: { callApp: hooks.baseUrl } } });
});

afterAll(async () => {
  await gw?.close();
  for (const c of children) await stopChild(c.child, c.exited, 2000);
  await sipp?.close();
  await hooks?.close();
  await assertNoChildProcesses();
});

describe('continuity', () => {
  it('hold (longer than the inactivity timeout), resume with PCMU and new SSRCs: one clean, monotonic output', async () => {
    const audioSink = await freeUdpPortRange(2);
    const videoSink = await freeUdpPortRange(2);
    sipp = await startSippUas({
      scenario: SCENARIO, sipPort: await freeUdpPort(), mediaPort: await freeUdpPortRange(4), durationMs: 5000,
      vars: { audio_sink: String(audioSink), video_sink: String(videoSink) },
    });
    const callId = 'media-continuity-1';
    expect((await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${sipp.sipPort}`, toStream: 'continuity' })).status).toBe(200);
    const far = sipp;
    const ports = await waitUntil(() => offerPorts(far), 10_000, 50, 'INVITE');
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 10_000);
    const first = spawnChild('ffmpeg', ffmpegRtpArgs({ audio: 'pcma', video: 'h264', ...ports, seconds: 30 }));
    children.push(first);
    await waitUntil(async () => (await gw.rest('/call/find', { callId })).body[0]?.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE', 10_000, 100, 'active').catch(async (e: unknown) => {
      console.log(JSON.stringify((await gw.rest('/call/find', { callId })).body), gw.logs().filter((l) => l.level >= 30).slice(-30).map((l) => `${l.msg} ${JSON.stringify(l).slice(0, 300)}`).join('\n'));
      throw e;
    });
    // Read the output across hold, resume and the codec change.
    const probe = probeStream(`${gw.embeddedRtmpUrl}/continuity`, { seconds: 16, timeoutMs: 40_000 });
    await waitUntil(() => far.logs().includes('HELD'), 10_000, 50, 'hold');
    await stopChild(first.child, first.exited, 2000);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'HOLD', 5000);
    await waitUntil(() => far.logs().includes('SWITCHED'), 10_000, 50, 'resume with PCMU');
    children.push(spawnChild('ffmpeg', ffmpegRtpArgs({ audio: 'pcmu', video: 'h264', ...ports, seconds: 30, ssrcs: [3333, 4444] })));
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED' && hooks.events.some((h) => h.body?.status === 'HOLD'), 5000);
    const p = await probe;
    expect(p.errors).toEqual([]);
    // On hold for 5 s with no RTP, rtpActivityTimeoutMs 3000 did not end the call (3 s also leaves a
    // loaded machine time to start the first sender after the answer).
    expect((await gw.rest('/call/find', { callId })).body[0]).toMatchObject({ status: 'ESTABLISHED', audioCodec: 'PCMU/8000' });
    const monotonic = (pts: number[]): boolean => pts.every((t, i) => i === 0 || t >= pts[i - 1]!);
    expect(monotonic(p.video!.pts)).toBe(true);
    expect(monotonic(p.audio!.pts)).toBe(true);
    // Media after the resume: the last frames are well past the hold.
    const lastV = p.video!.pts.at(-1)!;
    const lastA = p.audio!.pts.at(-1)!;
    expect(lastV - p.video!.pts[0]!).toBeGreaterThan(8);
    expect(lastA - p.audio!.pts[0]!).toBeGreaterThan(8);
    expect(Math.abs(lastV - lastA)).toBeLessThan(0.5);
  });
});
