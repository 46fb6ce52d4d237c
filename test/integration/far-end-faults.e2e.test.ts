/**
 * Far ends that deviate from the happy path, with real peers on 127.0.0.1
 * (SIPp UAS answering with an SDP the test sets, nginx-rtmp as the external
 * target, ffprobe/ffmpeg as judges):
 * - answers with out-of-range ports, `a=rtcp:0` or a host name in `c=`:
 *   the call ends FAILED with the reason (nothing throws later from a timer),
 *   the gateway stays up and the next call streams;
 * - a far end that sends video and no audio: the output still has H.264 +
 *   AAC (silence), and real audio replaces the silence when it starts;
 * - an exception inside one call's code ends that call only (error boundary).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { SippFarEnds, type SippProcess } from '../helpers/sipp.js';
import { startNginxRtmp, type NginxRtmp } from '../helpers/nginx.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { probeStream } from '../helpers/ffprobe.js';
import { waitUntil } from '../helpers/wait.js';
import { freeUdpPortRange } from '../helpers/ports.js';
import { assertNoChildProcesses } from '../helpers/processes.js';

let gw: TestGateway;
let nginx: NginxRtmp;
let hooks: WebhookReceiver;
const fars = new SippFarEnds();
let seq = 0;

/** A SIPp far end answering with the given SDP fields; defaults are a sane answer that sends video and no audio. */
async function farEnd(vars: Partial<Record<'a_port' | 'a_conn' | 'a_extra' | 'v_port' | 'v_conn' | 'v_extra' | 'audio_after_ms', string>>): Promise<SippProcess> {
  const mediaPort = await freeUdpPortRange(4);
  return fars.uas('uas-sdp-variant.xml', {
    mediaPort,
    vars: {
      a_port: String(mediaPort), a_conn: '127.0.0.1', a_extra: 'a=ptime:20',
      v_port: String(mediaPort + 2), v_conn: '127.0.0.1', v_extra: 'a=framerate:25',
      audio_after_ms: '-1', ...vars,
    },
  });
}

async function startCall(far: SippProcess, toStream: string): Promise<string> {
  const callId = `faults-${++seq}`;
  const res = await gw.rest('/call/startup', {
    callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, toStream, rtmpUrl: nginx.rtmpUrl, rtmpStream: toStream,
  });
  expect(res.status).toBe(200);
  return callId;
}

function lastEvent(callId: string): any {
  return hooks.events.filter((e) => e.body?.callId === callId).at(-1)?.body;
}

async function waitActive(callId: string): Promise<void> {
  await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED' && e.body.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE', 20_000);
}

async function terminate(callId: string): Promise<void> {
  expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
  await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
}

/** Loudest sample (dBFS) of the audio of `file` between `from` and `from + len` seconds, by ffmpeg's volumedetect. */
function maxVolumeDb(file: string, from: number, len: number): number {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-nostats', '-ss', String(from), '-t', String(len), '-i', file, '-vn', '-af', 'volumedetect', '-f', 'null', '-'], { encoding: 'utf8' });
  const m = /max_volume: (-?[\d.]+|-inf) dB/.exec(r.stderr);
  if (!m) throw new Error(`no volumedetect output for ${file}: ${r.stderr.slice(-400)}`);
  return m[1] === '-inf' ? -Infinity : Number(m[1]);
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

describe('SDP answers out of range', () => {
  it.each([
    ['RTP port 65535 (RTCP 65536)', { a_port: '65535', v_port: '65535' }, /audio RTCP port 65536 is out of range; video RTCP port 65536 is out of range/],
    ['a=rtcp:0', { a_extra: 'a=rtcp:0', v_extra: 'a=rtcp:0' }, /audio RTCP port 0 is out of range/],
    ['port 70000', { a_port: '70000', v_port: '70000' }, /audio port 70000 is out of range/],
    ['a host name in c=', { a_conn: 'media.invalid', v_conn: 'media.invalid' }, /connection address "media.invalid" is not an IP literal/],
  ])('%s: the call ends FAILED with the reason, BYE goes out, and the next call streams', async (_name, vars, reason) => {
    const bad = await farEnd(vars);
    const callId = await startCall(bad, `bad_${seq + 1}`);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FAILED', 15_000);
    expect(lastEvent(callId).info).toMatch(/^BAD_SDP_ANSWER: /);
    expect(lastEvent(callId).info).toMatch(reason);
    await waitUntil(() => bad.sipMessages().some((m) => m.direction === 'received' && m.method === 'BYE'), 5000, 50, 'BYE for the unusable answer');
    // Longer than the RTCP interval (1.5–4.5 s): a timer that would throw on the bad port has run by now.
    await new Promise((r) => setTimeout(r, 3000));

    const good = await farEnd({});
    const next = await startCall(good, `good_${seq + 1}`);
    await waitActive(next);
    await terminate(next);
  });

  it('one bad m-line costs that track only: the call streams the other, with AAC silence for the missing audio', async () => {
    const far = await farEnd({ a_port: '65535' });
    const callId = await startCall(far, 'half_bad');
    await waitActive(callId);
    const found = await gw.rest('/call/find', { callId });
    expect(found.body[0]).toMatchObject({ status: 'ESTABLISHED', audioCodec: null, videoCodec: 'H264/90000' });
    const probe = await probeStream(`${nginx.rtmpUrl}/half_bad`, { seconds: 4 });
    expect(probe.errors).toEqual([]);
    expect(probe.video?.frames).toBeGreaterThan(40);
    expect(probe.audio).toMatchObject({ codec: 'aac', sampleRate: 48000, channels: 1 });
    expect(probe.audio?.frames).toBeGreaterThan(60);
    await terminate(callId);
  });
});

describe('a far end that sends video and no audio', () => {
  it('publishes H.264 + AAC silence, and the real audio replaces the silence when it starts', async () => {
    const far = await farEnd({ audio_after_ms: '5000' });
    const callId = await startCall(far, 'late_audio');
    await waitActive(callId);
    const found = await gw.rest('/call/find', { callId });
    expect(found.body[0]).toMatchObject({ audioCodec: 'PCMA/8000', videoCodec: 'H264/90000' });
    // Live, before any audio RTP: both tracks decode.
    const live = await probeStream(`${nginx.rtmpUrl}/late_audio`, { seconds: 3 });
    expect(live.errors).toEqual([]);
    expect(live.video?.frames).toBeGreaterThan(30);
    expect(live.audio).toMatchObject({ codec: 'aac', sampleRate: 48000, channels: 1 });
    expect(live.audio?.frames).toBeGreaterThan(40);
    expect(gw.gw.calls.registry.get(callId).stats().rtp.audio?.packets).toBe(0);
    // The A-law tone starts 5 s after the ACK.
    await waitUntil(() => (gw.gw.calls.registry.get(callId).stats().rtp.audio?.packets ?? 0) > 100, 15_000, 100, 'audio RTP');
    await new Promise((r) => setTimeout(r, 2500));
    await terminate(callId);

    const file = await waitUntil(() => nginx.recordings().find((f) => f.includes('late_audio')), 5000, 100, 'recording');
    const rec = await probeStream(file);
    expect(rec.errors).toEqual([]);
    expect(rec.audio?.codec).toBe('aac');
    // Monotonic audio timestamps across the silence → real audio switch.
    const pts = rec.audio?.pts ?? [];
    expect(pts.every((t, i) => i === 0 || t > (pts[i - 1] as number))).toBe(true);
    const end = pts.at(-1) ?? 0;
    expect(end).toBeGreaterThan(6);
    // Silence first (a generated AAC frame decodes to digital silence), the 440 Hz tone at the end.
    expect(maxVolumeDb(file, 1.5, 2)).toBeLessThan(-60);
    expect(maxVolumeDb(file, end - 1.5, 1.2)).toBeGreaterThan(-30);
  });
});

describe('error boundary', () => {
  it('an exception in one call\'s timer ends that call FAILED with the error; another call keeps streaming', async () => {
    const [farA, farB] = [await farEnd({ audio_after_ms: '0' }), await farEnd({ audio_after_ms: '0' })];
    const a = await startCall(farA, 'boundary_a');
    const b = await startCall(farB, 'boundary_b');
    await waitActive(a);
    await waitActive(b);
    // A fault no peer can produce on demand: a bug throwing from a timer the call owns.
    gw.gw.calls.registry.get(a).inScope(() => setTimeout(() => {
      throw new Error('injected fault');
    }, 10));
    await hooks.waitFor((e) => e.body?.callId === a && e.body.status === 'FAILED', 10_000);
    expect(lastEvent(a).info).toBe('INTERNAL_ERROR: injected fault');
    await waitUntil(() => farA.sipMessages().some((m) => m.direction === 'received' && m.method === 'BYE'), 5000, 50, 'BYE for the failed call');
    expect(gw.logs().some((l) => l.callId === a && l.msg === 'internal error: ending this call' && /injected fault/.test(JSON.stringify(l.err)))).toBe(true);

    const packets = gw.gw.calls.registry.get(b).stats().rtp.video?.packets ?? 0;
    const probe = await probeStream(`${nginx.rtmpUrl}/boundary_b`, { seconds: 3 });
    expect(probe.errors).toEqual([]);
    expect(probe.video?.frames).toBeGreaterThan(30);
    expect(gw.gw.calls.registry.get(b).status).toBe('ESTABLISHED');
    expect(gw.gw.calls.registry.get(b).stats().rtp.video?.packets).toBeGreaterThan(packets);
    await terminate(b);
  });
});

describe('metrics of these endings', () => {
  it('count them by their code, not by their detail', async () => {
    const text = await (await fetch(`${gw.baseUrl}/metrics`)).text();
    const count = (labels: string): number => Number(new RegExp(`^gateway_calls_ended_total\\{${labels}\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    expect(count('status="FAILED",reason="BAD_SDP_ANSWER"')).toBe(4);
    expect(count('status="FAILED",reason="INTERNAL_ERROR"')).toBe(1);
    expect(text).not.toMatch(/reason="[^"]*(out of range|injected)/);
  });
});
