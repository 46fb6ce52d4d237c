/**
 * RTP injection during a live call, on 127.0.0.1 (SIPp far end sending H.264
 * + PCMA, nginx-rtmp as target): a stranger sends RTP with a new SSRC to the
 * call's audio and video ports — from another port of the far end's address
 * and from another address (127.0.0.2). None of it is counted as the call's
 * media or reaches its output; all of it is counted as foreign, in the call's
 * stats and in `gateway_rtp_foreign_packets_total`.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import dgram from 'node:dgram';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { SippFarEnds } from '../helpers/sipp.js';
import { startNginxRtmp, type NginxRtmp } from '../helpers/nginx.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { probeStream } from '../helpers/ffprobe.js';
import { waitUntil } from '../helpers/wait.js';
import { assertNoChildProcesses } from '../helpers/processes.js';
import { serializeRtpPacket } from '../../src/rtp/rtp-packet.js';

let gw: TestGateway;
let nginx: NginxRtmp;
let hooks: WebhookReceiver;
const fars = new SippFarEnds();
const sockets: dgram.Socket[] = [];

beforeAll(async () => {
  nginx = await startNginxRtmp();
  hooks = await startWebhookReceiver();
  gw = await startTestGateway({ webhook: { apps: { callApp: hooks.baseUrl } } });
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await fars.closeAll();
  await gw?.close();
  await nginx?.close();
  await hooks?.close();
  await assertNoChildProcesses();
});

async function stranger(address: string): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, address, () => r()));
  sockets.push(s);
  return s;
}

describe('RTP injection during a live call', () => {
  it('a new SSRC from another port or address changes neither the call\'s counters nor its output', async () => {
    const far = await fars.uas('uas-answer.xml', { vars: { video_loops: '2' } });
    const callId = 'rtp-inject-1';
    expect((await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, toStream: 'inject', rtmpUrl: nginx.rtmpUrl, rtmpStream: 'inject' })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE', 20_000);
    const invite = far.sipMessages().find((m) => m.direction === 'received' && m.method === 'INVITE')?.text ?? '';
    const audioPort = Number(/^m=audio (\d+)/m.exec(invite)?.[1]);
    const videoPort = Number(/^m=video (\d+)/m.exec(invite)?.[1]);
    expect(audioPort).toBeGreaterThan(0);
    const call = gw.gw.calls.registry.get(callId);
    await waitUntil(() => (call.stats().rtp.audio?.packets ?? 0) > 50, 5000, 50, 'far end audio');
    const before = call.stats().rtp;
    const sameHost = await stranger('127.0.0.1');
    const otherHost = await stranger('127.0.0.2');
    const N = 100;
    for (let i = 0; i < N; i++) {
      // Loud A-law (0x00) under a new SSRC, with sequence numbers and timestamps near the far end's.
      const audio = serializeRtpPacket({ payloadType: 8, marker: false, seq: i, timestamp: i * 160, ssrc: 0xbad0 + i % 2 }, Buffer.alloc(160, 0x00));
      const video = serializeRtpPacket({ payloadType: 96, marker: true, seq: i, timestamp: i * 3000, ssrc: 0xbad9 }, Buffer.from([0x65, 1, 2, 3]));
      for (const s of [sameHost, otherHost]) {
        s.send(audio, audioPort, '127.0.0.1');
        s.send(video, videoPort, '127.0.0.1');
      }
      if (i % 20 === 19) await new Promise((r) => setTimeout(r, 20));
    }
    await waitUntil(() => (call.stats().rtp.audio?.foreign ?? 0) - (before.audio?.foreign ?? 0) === 2 * N
      && (call.stats().rtp.video?.foreign ?? 0) - (before.video?.foreign ?? 0) === 2 * N, 5000, 50, 'every injected packet counted as foreign');
    const after = call.stats().rtp;
    // Nothing injected was taken as media: no loss, no new source, no discarded-but-parsed packet.
    expect(after.audio?.lost).toBe(before.audio?.lost);
    expect(after.video?.lost).toBe(before.video?.lost);
    expect(after.audio?.discarded).toBe(before.audio?.discarded);
    expect(gw.logs().some((l) => l.callId === callId && l.msg === 'RTP source changed')).toBe(false);
    const metrics = await (await fetch(`${gw.baseUrl}/metrics`)).text();
    expect(Number(/^gateway_rtp_foreign_packets_total\{kind="audio"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2 * N);
    // The output is the far end's: it still decodes.
    const p = await probeStream(`${nginx.rtmpUrl}/inject`, { seconds: 3 });
    expect(p.errors).toEqual([]);
    expect(p.audio?.codec).toBe('aac');
    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
  });
});
