/**
 * Operating the gateway (SPEC §2, §7, §8): metrics after a real call, the
 * call limit, and SIGTERM with live calls — BYE on every call, final events
 * delivered, no child process left, exit within the deadline.
 */
import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { SippFarEnds, type SippProcess } from '../helpers/sipp.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { stopChild } from '../helpers/proc.js';
import { startGatewayProcess } from '../helpers/gateway-process.js';
import { childProcesses, assertNoChildProcesses } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';
import { startCodecFarEnd, type CodecFarEnd } from '../helpers/media-far-end.js';

const fars = new SippFarEnds();
let hooks: WebhookReceiver;

function uas(): Promise<SippProcess> {
  return fars.uas('uas-answer.xml');
}

function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : NaN;
}

beforeAll(async () => {
  hooks = await startWebhookReceiver();
});

afterAll(async () => {
  await fars.closeAll();
  await hooks?.close();
  await assertNoChildProcesses();
});

describe('metrics and limits (in-process gateway)', () => {
  let gw: TestGateway;
  afterAll(async () => gw?.close());

  it('counts a real call in the SPEC §8 families, without per-call labels', async () => {
    gw = await startTestGateway({ webhook: { apps: { callApp: hooks.baseUrl } }, rest: { maxCalls: 1 } });
    const far = await uas();
    const callId = 'ops-metrics-0001';
    expect((await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}` })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE', 20_000);

    // At the call limit: 503.
    const over = await gw.rest('/call/startup', { callee: `sip:service@127.0.0.1:${far.sipPort}` });
    expect(over.status).toBe(503);
    expect(over.body.message).toMatch(/call limit of 1/);

    await new Promise((r) => setTimeout(r, 1500));
    const during = await (await fetch(`${gw.baseUrl}/metrics`)).text();
    expect(metric(during, 'gateway_calls_live')).toBe(1);
    // G.711 → AAC runs in-process (a codec worker thread); H.264 passes as it is.
    expect(metric(during, 'gateway_transcoders{kind="audio"}')).toBe(1);
    expect(metric(during, 'gateway_transcoders{kind="video"}')).toBe(0);
    expect(metric(during, 'gateway_rtmp_connections{state="RTMP_STREAM_ACTIVE"}')).toBe(1);

    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    await waitUntil(() => gw.logs().some((l) => l.callId === callId && l.msg === 'call media closed'), 10_000, 50, 'media closed');

    const after = await (await fetch(`${gw.baseUrl}/metrics`)).text();
    expect(metric(after, 'gateway_calls_live')).toBe(0);
    expect(metric(after, 'gateway_calls_ended_total{status="FINISH",reason="NORMAL_CALL_CLEARING"}')).toBe(1);
    expect(metric(after, 'gateway_call_setup_seconds_count')).toBe(1);
    expect(metric(after, 'gateway_first_rtmp_keyframe_seconds_count')).toBe(1);
    expect(metric(after, 'gateway_rtp_packets_total{kind="video"}')).toBeGreaterThan(30);
    expect(metric(after, 'gateway_rtp_packets_total{kind="audio"}')).toBeGreaterThan(50);
    // Counters survive the call's end: what it counted stays counted.
    expect(metric(after, 'gateway_rtp_bytes_total{kind="video"}')).toBeGreaterThanOrEqual(metric(during, 'gateway_rtp_bytes_total{kind="video"}'));
    expect(metric(during, 'gateway_rtp_bytes_total{kind="video"}')).toBeGreaterThan(10_000);
    expect(metric(after, 'gateway_rtmp_bytes_total{direction="out"}')).toBeGreaterThan(10_000);
    expect(metric(after, 'gateway_transcoders{kind="audio"}')).toBe(0);
    expect(metric(after, 'gateway_transcoder_cpu_seconds_total')).toBeGreaterThanOrEqual(metric(during, 'gateway_transcoder_cpu_seconds_total'));
    expect(metric(during, 'gateway_transcoder_cpu_seconds_total')).toBeGreaterThan(0);
    expect(metric(after, 'gateway_keyframe_requests_total{kind="pli"}')).toBeGreaterThanOrEqual(1);
    expect(metric(after, 'gateway_rest_requests_total{route="/rest-api/call/startup",status="503"}')).toBe(1);
    expect(metric(after, 'gateway_webhook_deliveries_total{result="ok"}')).toBeGreaterThanOrEqual(4);
    expect(after).toMatch(/^gateway_process_resident_memory_bytes \d+/m);
    // Bounded cardinality: no call id or stream name in any label.
    expect(after).not.toContain(callId);
  });
});

describe('shutdown', () => {
  it('refuses new calls with 503 while it hangs up the live ones', async () => {
    const gw = await startTestGateway({ webhook: { apps: { callApp: hooks.baseUrl } } });
    const far = await uas();
    const callId = 'ops-shutdown-0001';
    expect((await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}` })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE', 20_000);
    const closing = gw.close();
    const late = await gw.rest('/call/startup', { callee: `sip:service@127.0.0.1:${far.sipPort}` });
    expect(late.status).toBe(503);
    expect(late.body.message).toMatch(/shutting down/);
    await closing;
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 5000);
  });
});

/**
 * These far ends send VP8 (+ A-law): both tracks are re-encoded, in-process
 * (codec worker threads), so the gateway runs no process per call.
 */
describe('SIGTERM with three live calls (gateway as its own process)', () => {
  const codecFars: CodecFarEnd[] = [];
  afterAll(async () => {
    for (const f of codecFars.splice(0)) await f.close();
  });

  async function vp8Call(base: string, callId: string): Promise<CodecFarEnd> {
    const far = await startCodecFarEnd('pcma', 'vp8');
    codecFars.push(far);
    const r = await fetch(`${base}/call/startup`, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify({ callId, callee: `sip:service@127.0.0.1:${far.sipPort}` }) });
    expect(r.status).toBe(200);
    await far.sendMedia(30);
    return far;
  }

  it('sends BYE on every call, delivers the final events, leaves no child process and exits 0', async () => {
    const { child, exited, base, stderr } = await startGatewayProcess({ webhook: { apps: { callApp: hooks.baseUrl } } });
    try {
      const ids = [0, 1, 2].map((i) => `ops-sigterm-000${i}`);
      const fars: SippProcess[] = [];
      for (const id of ids) fars.push((await vp8Call(base, id)).sipp);
      for (const id of ids) await hooks.waitFor((e) => e.body?.callId === id && e.body.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE', 20_000);
      // No codec process per call (the children are the embedded viewer server and, under tsx, esbuild).
      const children = childProcesses(child.pid).map((c) => c.cmdline);
      expect(children.filter((c) => /ffmpeg|ffprobe/.test(c)), children.join('\n')).toEqual([]);

      const t0 = Date.now();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(20_000);

      for (const far of fars) {
        await waitUntil(() => far.sipMessages().some((m) => m.direction === 'received' && m.method === 'BYE'), 5000, 50, 'BYE');
      }
      for (const id of ids) {
        expect(hooks.events.filter((e) => e.body?.callId === id).at(-1)?.body).toMatchObject({ status: 'FINISH', info: 'NORMAL_CALL_CLEARING' });
      }
    } finally {
      await stopChild(child, exited, 3000);
      if (stderr()) console.error(stderr().slice(0, 2000));
    }
  });
});

const JSON_TYPE = { 'content-type': 'application/json' };
