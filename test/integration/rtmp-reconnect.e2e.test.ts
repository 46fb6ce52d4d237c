/**
 * RTMP output resilience with real servers on 127.0.0.1: nginx-rtmp stopped
 * mid-call (LOST, then ACTIVE again once it is back, the new recording
 * decoding from its first frame), and a stream key nginx refuses through its
 * on_publish hook (FAILED at once, no retries, the call ends
 * FAILED_BY_RTMP_WRITER_ERROR).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
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
/** nginx's on_publish hook: refuses the key `refused_key` with 403. */
let onPublish: WebhookReceiver;
const fars = new SippFarEnds();

function uas(vars: Record<string, string> = {}): Promise<SippProcess> {
  return fars.uas('uas-answer.xml', { vars });
}

function rtmpStatuses(callId: string): string[] {
  const out: string[] = [];
  for (const e of hooks.events) {
    if (e.body?.callId !== callId) continue;
    const s = `${e.body.status}/${e.body.rtmpStreamStatus}`;
    if (out.at(-1) !== s) out.push(s);
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  onPublish = await startWebhookReceiver({ appPath: '/on_publish', status: (ev) => (/name=refused_key/.test(ev.raw) ? 403 : 200) });
  nginx = await startNginxRtmp({ onPublish: `${onPublish.baseUrl}` });
  hooks = await startWebhookReceiver();
  gw = await startTestGateway({
    webhook: { apps: { callApp: hooks.baseUrl } },
    rtmp: { reconnect: { initialDelayMs: 200, maxDelayMs: 1000, giveUpAfterMs: 30_000, failCall: true } },
  });
});

afterAll(async () => {
  await fars.closeAll();
  await gw?.close();
  await nginx?.close();
  await hooks?.close();
  await onPublish?.close();
  await assertNoChildProcesses();
});

describe('RTMP reconnect and refusal (nginx-rtmp)', () => {
  it('nginx stopped mid-call → RTMP_CONNECTION_LOST; started again → RTMP_STREAM_ACTIVE; the new recording decodes from its first frame', async () => {
    await uas({ video_loops: '3' });
    const far = fars.all.at(-1) as SippProcess;
    const callId = 'rtmp-reconnect-0001';
    const start = await gw.rest('/call/startup', {
      callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, toStream: 'rc_stream', rtmpUrl: nginx.rtmpUrl, rtmpStream: 'rc_key',
    });
    expect(start.status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE', 20_000);
    await sleep(2500);

    await nginx.stop({ fast: true });
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.rtmpStreamStatus === 'RTMP_CONNECTION_LOST', 10_000);
    // The SIP call stays up meanwhile.
    expect((await gw.rest('/call/find', { callId })).body[0]).toMatchObject({ status: 'ESTABLISHED', rtmpStreamStatus: 'RTMP_CONNECTION_LOST' });
    await sleep(1500); // a few failed attempts against the stopped server
    const before = nginx.recordings().length;
    await nginx.start();
    const lostAt = hooks.events.findIndex((e) => e.body?.callId === callId && e.body.rtmpStreamStatus === 'RTMP_CONNECTION_LOST');
    await waitUntil(
      () => hooks.events.slice(lostAt).some((e) => e.body?.callId === callId && e.body.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE'),
      10_000, 50, 'ACTIVE again after nginx restarted',
    );
    await waitUntil(async () => (await nginx.publishers()).includes('rc_key'), 5000, 100, 'publisher back on nginx');
    await sleep(4000);

    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    expect(rtmpStatuses(callId).filter((s) => s.startsWith('ESTABLISHED'))).toEqual([
      'ESTABLISHED/RTMP_STREAM_WAIT', 'ESTABLISHED/RTMP_STREAM_ACTIVE', 'ESTABLISHED/RTMP_CONNECTION_LOST', 'ESTABLISHED/RTMP_STREAM_ACTIVE',
    ]);

    // The recording made after the reconnect: starts on a keyframe, decodes cleanly, monotonic times.
    await waitUntil(() => nginx.recordings().filter((f) => f.includes('rc_key')).length > before, 5000, 100, 'recording after the reconnect');
    const after = nginx.recordings().filter((f) => f.includes('rc_key')).at(-1) as string;
    const rec = await probeStream(after);
    expect(rec.errors).toEqual([]);
    expect(rec.video).toMatchObject({ codec: 'h264', startsWithKeyframe: true });
    expect(rec.audio).toMatchObject({ codec: 'aac' });
    expect(rec.durationS).toBeGreaterThanOrEqual(3);
    const pts = rec.video?.pts ?? [];
    expect(pts.length).toBeGreaterThan(60);
    for (let i = 1; i < pts.length; i++) expect(pts[i] as number).toBeGreaterThanOrEqual(pts[i - 1] as number);
    const apts = rec.audio?.pts ?? [];
    for (let i = 1; i < apts.length; i++) expect(apts[i] as number).toBeGreaterThanOrEqual(apts[i - 1] as number);
  }, 90_000);

  it('a stream key the server refuses → RTMP_CONNECTION_FAILED quickly, no retries, call ends FAILED_BY_RTMP_WRITER_ERROR', async () => {
    const far = await uas();
    const callId = 'rtmp-refused-0001';
    const t0 = Date.now();
    expect((await gw.rest('/call/startup', {
      callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, toStream: 'rf_stream', rtmpUrl: nginx.rtmpUrl, rtmpStream: 'refused_key',
    })).status).toBe(200);
    const failed = await hooks.waitFor((e) => e.body?.callId === callId && e.body.rtmpStreamStatus === 'RTMP_CONNECTION_FAILED', 10_000);
    expect(failed.at - t0).toBeLessThan(5000);
    const end = await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FAILED', 10_000);
    expect(end.body).toMatchObject({ info: 'FAILED_BY_RTMP_WRITER_ERROR', rtmpStreamStatus: 'RTMP_CONNECTION_FAILED' });
    await waitUntil(() => far.sipMessages().some((m) => m.direction === 'received' && m.method === 'BYE'), 5000, 50, 'BYE to the far end');
    await sleep(1500); // a retry would have shown by now
    expect(onPublish.events.filter((e) => /name=refused_key/.test(e.raw))).toHaveLength(1);
  }, 60_000);
});
