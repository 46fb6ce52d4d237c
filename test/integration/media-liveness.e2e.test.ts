/**
 * Liveness with a real SIPp far end that answers audio + video sendrecv but
 * never sends RTP (SPEC §5, §9.4): the gateway sends G.711 silence, a black
 * H.264 loop and RTCP sender reports to the ports of the SDP answer; after
 * rtpActivityTimeoutMs without RTP it hangs up with FAILED /
 * FAILED_BY_RTP_ACTIVITY. With generateMediaForUa off, nothing but RTCP
 * receiver reports goes out.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import dgram from 'node:dgram';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startSippUas, type SippProcess } from '../helpers/sipp.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { RtpCollector, parseRtpHeader } from '../helpers/rtp-sink.js';
import { freeUdpPort, freeUdpPortRange } from '../helpers/ports.js';
import { waitUntil } from '../helpers/wait.js';
import { assertNoChildProcesses } from '../helpers/processes.js';
import { startCodecFarEnd, type CodecFarEnd } from '../helpers/media-far-end.js';

const SCENARIO = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/media/uas-silent-sinks.xml');

/** Counts RTCP packet types arriving on a port. */
class RtcpSink {
  readonly types: number[] = [];
  readonly sock = dgram.createSocket('udp4');
  static async bind(port: number): Promise<RtcpSink> {
    const s = new RtcpSink();
    s.sock.on('message', (m) => {
      if (m.length >= 8) s.types.push(m[1]!);
    });
    await new Promise<void>((resolve, reject) => {
      s.sock.once('error', reject);
      s.sock.bind(port, '127.0.0.1', () => resolve());
    });
    return s;
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.sock.close(() => resolve()));
  }
}

interface Sinks { audio: RtpCollector; video: RtpCollector; audioRtcp: RtcpSink; videoRtcp: RtcpSink; sipp: SippProcess }

let hooks: WebhookReceiver;
const gateways: TestGateway[] = [];
const open: Sinks[] = [];
const codecFars: { far: CodecFarEnd; sink: RtpCollector }[] = [];

async function silentFarEnd(): Promise<Sinks> {
  const a = await freeUdpPortRange(2);
  const v = await freeUdpPortRange(2);
  const audio = await RtpCollector.bind(a, 0);
  const video = await RtpCollector.bind(v, 40);
  const audioRtcp = await RtcpSink.bind(a + 1);
  const videoRtcp = await RtcpSink.bind(v + 1);
  const sipp = await startSippUas({
    scenario: SCENARIO, sipPort: await freeUdpPort(), mediaPort: await freeUdpPortRange(4),
    vars: { audio_sink: String(a), video_sink: String(v) },
  });
  const s = { audio, video, audioRtcp, videoRtcp, sipp };
  open.push(s);
  return s;
}

async function gateway(rtp: Record<string, unknown>): Promise<TestGateway> {
  const g = await startTestGateway({ rtp, rtmp: { embedded: { enabled: false } }, webhook: { apps: { callApp: hooks.baseUrl } } });
  gateways.push(g);
  return g;
}

beforeAll(async () => {
  hooks = await startWebhookReceiver();
});

afterAll(async () => {
  for (const s of open) {
    await s.sipp.close();
    await Promise.all([s.audio.close(), s.video.close(), s.audioRtcp.close(), s.videoRtcp.close()]);
  }
  for (const g of gateways) await g.close();
  for (const c of codecFars) {
    await c.far.close();
    await c.sink.close();
  }
  await hooks?.close();
  await assertNoChildProcesses();
});

describe('media liveness', () => {
  it('sends silence, black H.264 and RTCP SR to a silent far end, then ends the call FAILED_BY_RTP_ACTIVITY', async () => {
    const gw = await gateway({ rtpActivityTimeoutMs: 3000, generateMediaForUa: true });
    const far = await silentFarEnd();
    const callId = 'media-live-0001';
    const start = await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipp.sipPort}`, toStream: 'media_live' });
    expect(start.status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 10_000);
    const t0 = Date.now();
    // Video is counted over 2 s from its first frame (the call ends 3 s after media starts).
    await waitUntil(() => (far.video.stats.get(96)?.markers ?? 0) >= 1, 1000, 20, 'black video');
    const m0 = far.video.stats.get(96)!.markers;
    await new Promise((r) => setTimeout(r, 2000));

    // Audio: PCMA silence (PT 8), 160 bytes per 20 ms, timestamps +160 per packet.
    const pcma = far.audio.stats.get(8);
    // 50 a second (no upper bound: a loaded machine may make the wait longer than 2 s).
    expect(pcma?.packets).toBeGreaterThanOrEqual(80);
    expect(pcma!.payloadBytes / pcma!.packets).toBe(160);
    expect(pcma!.ssrcs.size).toBe(1);
    expect(((pcma!.lastTs - pcma!.firstTs) >>> 0) / ((pcma!.lastSeq - pcma!.firstSeq) & 0xffff)).toBe(160);
    // Video: H.264 (PT 96) at 10 fps, one marker per frame, starting with SPS, PPS, IDR.
    expect(far.video.stats.get(96)!.markers - m0).toBeGreaterThanOrEqual(15);
    const nalTypes = far.video.kept.slice(0, 3).map((p) => p[parseRtpHeader(p)!.payloadOffset]! & 0x1f);
    expect(nalTypes).toEqual([7, 8, 5]);
    // RTCP: sender reports (PT 200) on both streams once media flows.
    await waitUntil(() => far.audioRtcp.types.includes(200) && far.videoRtcp.types.includes(200), 6000, 50, 'RTCP SR');

    // No RTP from the far end: the call ends about rtpActivityTimeoutMs after it started, with a BYE.
    const end = await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FAILED', 10_000);
    expect(end.body.info).toBe('FAILED_BY_RTP_ACTIVITY');
    expect(Date.now() - t0).toBeLessThan(8000);
    await waitUntil(() => far.sipp.sipMessages().some((m) => m.direction === 'received' && m.method === 'BYE'), 5000, 50, 'BYE');
  });

  it('sends no media with generateMediaForUa off, and keeps the call with rtpActivityTimeoutMs 0', async () => {
    const gw = await gateway({ rtpActivityTimeoutMs: 0, generateMediaForUa: false });
    const far = await silentFarEnd();
    const callId = 'media-live-0002';
    expect((await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipp.sipPort}`, toStream: 'media_quiet' })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 10_000);
    await new Promise((r) => setTimeout(r, 4000));
    expect(far.audio.stats.size).toBe(0);
    expect(far.video.stats.size).toBe(0);
    expect(far.audioRtcp.types.filter((t) => t === 200)).toEqual([]);
    expect(far.audioRtcp.types).toContain(201);
    expect((await gw.rest('/call/find', { callId })).body[0]).toMatchObject({ status: 'ESTABLISHED' });
    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
  });

  it('sends Opus and G.722 silence (20 ms packets) to far ends that answered those codecs', async () => {
    const gw = await gateway({ rtpActivityTimeoutMs: 0, generateMediaForUa: true });
    for (const [codec, pt, ticks, bytes] of [['opus', 111, 960, 3], ['g722', 9, 160, 160]] as const) {
      const far = await startCodecFarEnd(codec, 'h264');
      const sink = await RtpCollector.bind(far.audioSink, 0);
      codecFars.push({ far, sink });
      const callId = `media-live-${codec}`;
      expect((await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, toStream: `live_${codec}` })).status).toBe(200);
      await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 10_000);
      await waitUntil(() => sink.packets(pt) >= 25, 5000, 50, `${codec} silence`);
      const st = sink.stats.get(pt)!;
      expect(st.payloadBytes / st.packets).toBe(bytes);
      expect(((st.lastTs - st.firstTs) >>> 0) / ((st.lastSeq - st.firstSeq) & 0xffff)).toBe(ticks);
      await gw.rest('/call/terminate', { callId });
    }
  });

  it('sends Speex 16 kHz silence and a black VP8 loop to a far end that answered Speex + VP8', async () => {
    const gw = await gateway({ rtpActivityTimeoutMs: 0, generateMediaForUa: true });
    const far = await startCodecFarEnd('speex16', 'vp8');
    const sink = await RtpCollector.bind(far.audioSink, 0);
    const vsink = await RtpCollector.bind(far.videoSink, 40);
    codecFars.push({ far, sink }, { far, sink: vsink });
    const callId = 'media-live-speex-vp8';
    expect((await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, toStream: 'live_speex_vp8' })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 10_000);
    await waitUntil(() => sink.packets(98) >= 25 && vsink.packets(100) >= 10, 8000, 50, 'Speex silence and VP8 video');
    const st = sink.stats.get(98)!;
    // 20 ms of 16 kHz audio per packet.
    expect(((st.lastTs - st.firstTs) >>> 0) / ((st.lastSeq - st.firstSeq) & 0xffff)).toBe(320);
    expect(st.payloadBytes / st.packets).toBeGreaterThan(0);
    // VP8 (RFC 7741): the first packet starts a partition (S bit) and is a keyframe (P bit 0 in the VP8 header).
    const first = vsink.kept.find((p) => parseRtpHeader(p)?.payloadType === 100)!;
    const off = parseRtpHeader(first)!.payloadOffset;
    expect(first[off]! & 0x10).toBe(0x10);
    expect(first[off + 1]! & 0x01).toBe(0);
    expect(vsink.stats.get(100)!.markers).toBeGreaterThanOrEqual(10);
    await gw.rest('/call/terminate', { callId });
  });

  it('per call: rtpActivityTimeoutMs overrides the configuration, and a lobby (lobbyTimeoutMs) keeps a silent call until it is over', async () => {
    const gw = await gateway({ rtpActivityTimeoutMs: 60_000, generateMediaForUa: false });
    const quick = await silentFarEnd();
    const lobby = await silentFarEnd();
    const never = await silentFarEnd();
    const start = async (callId: string, far: Sinks, extra: Record<string, unknown>): Promise<number> => {
      expect((await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipp.sipPort}`, toStream: callId.replace(/-/g, '_'), ...extra })).status).toBe(200);
      await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 10_000);
      return Date.now();
    };
    const t1 = await start('live-per-call', quick, { rtpActivityTimeoutMs: 1000 });
    const t2 = await start('live-lobby', lobby, { rtpActivityTimeoutMs: 1000, lobbyTimeoutMs: 4000 });
    await start('live-never', never, { rtpActivityTimeoutMs: 0 });
    // 1 s without RTP ends the first (the configuration's 60 s would not).
    const e1 = await hooks.waitFor((e) => e.body?.callId === 'live-per-call' && e.body.status === 'FAILED', 6000);
    expect(e1.body.info).toBe('FAILED_BY_RTP_ACTIVITY');
    expect(Date.now() - t1).toBeLessThan(4000);
    // The lobby's 4 s are not inactivity: still up at 3 s; ended about 1 s after the lobby.
    await new Promise((r) => setTimeout(r, Math.max(0, t2 + 3000 - Date.now())));
    expect((await gw.rest('/call/find', { callId: 'live-lobby' })).body[0]).toMatchObject({ status: 'ESTABLISHED' });
    const e2 = await hooks.waitFor((e) => e.body?.callId === 'live-lobby' && e.body.status === 'FAILED', 8000);
    expect(e2.body.info).toBe('FAILED_BY_RTP_ACTIVITY');
    expect(Date.now() - t2).toBeGreaterThanOrEqual(4900);
    // 0: never.
    expect((await gw.rest('/call/find', { callId: 'live-never' })).body[0]).toMatchObject({ status: 'ESTABLISHED' });
    expect((await gw.rest('/call/terminate', { callId: 'live-never' })).status).toBe(200);
  });
});
