/**
 * Restreaming with real servers on 127.0.0.1: one call pushed to four
 * nginx-rtmp targets through /push/* (four decodable streams, still one
 * transcoder process), PushStatusEvent webhooks, the REST rules of SPEC §2.8,
 * a fifth target behind a throttling TCP relay (its queue stays bounded, the
 * others keep full frame rate), and pushes ending with their call.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startSippUas, type SippProcess } from '../helpers/sipp.js';
import { startNginxRtmp, type NginxRtmp } from '../helpers/nginx.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { startThrottleRelay, type ThrottleRelay } from '../helpers/rtmp-throttle-relay.js';
import { probeStream } from '../helpers/ffprobe.js';
import { freeUdpPort, freeUdpPortRange } from '../helpers/ports.js';
import { waitUntil } from '../helpers/wait.js';
import { childProcesses, assertNoChildProcesses } from '../helpers/processes.js';

let gw: TestGateway;
let nginx: NginxRtmp;
let hooks: WebhookReceiver;
let relay: ThrottleRelay;
let far: SippProcess | undefined;
const MAX_QUEUE = 65536;

beforeAll(async () => {
  nginx = await startNginxRtmp();
  hooks = await startWebhookReceiver();
  relay = await startThrottleRelay({ host: '127.0.0.1', port: nginx.rtmpPort }, 4000);
  gw = await startTestGateway({ webhook: { apps: { callApp: hooks.baseUrl } }, rtmp: { maxQueueBytes: MAX_QUEUE }, rest: { maxPushesPerCall: 5 } });
});

afterAll(async () => {
  await far?.close();
  await gw?.close();
  await relay?.close();
  await nginx?.close();
  await hooks?.close();
  await assertNoChildProcesses();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Long-running ffmpeg filters (reading media on stdin); one-shot helpers such as the slate render are not transcoders. */
const ffmpegChildren = (): number => childProcesses().filter((c) => /^(\S*\/)?ffmpeg\s.*-i pipe:0/.test(c.cmdline)).length;

describe('/push: restreaming one call to many targets', () => {
  it('pushes one call to four targets (four decodable streams, no transcoder process), a throttled fifth stays bounded, pushes end with the call', async () => {
    far = await startSippUas({ scenario: 'uas-answer.xml', sipPort: await freeUdpPort(), mediaPort: await freeUdpPortRange(4), vars: { video_loops: '4' } });
    const callId = 'rtmp-push-0001';
    expect((await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, toStream: 'push_src' })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE', 20_000);
    // No transcoder process: G.711 → AAC runs on a codec worker thread; pushes add none.
    const transcoders = ffmpegChildren();
    expect(transcoders, childProcesses().map((c) => c.cmdline).join('\n')).toBe(0);

    // REST rules.
    expect((await gw.rest('/push/find_all', {})).status).toBe(404);
    expect((await gw.rest('/push/startup', { streamName: 'nope', rtmpUrl: `${nginx.rtmpUrl}/x` })).status).toBe(404);
    expect((await gw.rest('/push/startup', { streamName: 'push_src', rtmpUrl: 'http://example.com/live/x' })).status).toBe(400);
    expect((await gw.rest('/push/startup', { streamName: 'push_src', rtmpUrl: 'rtmp://127.0.0.1/onlyapp' })).status).toBe(400);

    const ids: string[] = [];
    for (let i = 1; i <= 4; i++) {
      const r = await gw.rest('/push/startup', { streamName: 'push_src', rtmpUrl: `${nginx.rtmpUrl}/push${i}` });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ streamName: 'push_src', rtmpUrl: `${nginx.rtmpUrl}/push${i}`, status: 'RTMP_STREAM_WAIT' });
      ids.push(r.body.mediaSessionId as string);
    }
    expect((await gw.rest('/push/startup', { streamName: 'push_src', rtmpUrl: `${nginx.rtmpUrl}/push1` })).status).toBe(409);
    const slow = await gw.rest('/push/startup', { streamName: 'push_src', rtmpUrl: `rtmp://127.0.0.1:${relay.port}/live/slow` });
    expect(slow.status).toBe(200);
    // rest.maxPushesPerCall (5 here): one more is refused with the reason, and opens no connection.
    const over = await gw.rest('/push/startup', { streamName: 'push_src', rtmpUrl: `${nginx.rtmpUrl}/push6` });
    expect(over.status).toBe(409);
    expect(over.body.message).toMatch(/already has 5 pushes, the most a call may have \(rest\.maxPushesPerCall\)/);

    // Every push reports ACTIVE through PushStatusEvent, with its callId.
    for (const id of [...ids, slow.body.mediaSessionId as string]) {
      await hooks.waitFor((e) => e.path === '/PushStatusEvent' && e.body?.mediaSessionId === id && e.body.status === 'RTMP_STREAM_ACTIVE', 10_000);
    }
    const ev = hooks.events.find((e) => e.path === '/PushStatusEvent' && e.body?.mediaSessionId === ids[0]);
    expect(ev?.body).toMatchObject({ callId, streamName: 'push_src' });
    const found = await gw.rest('/push/find', { streamName: 'push_src' });
    expect(found.status).toBe(200);
    expect(found.body).toHaveLength(5);
    expect((await gw.rest('/push/find', { mediaSessionId: ids[2] })).body[0]).toMatchObject({ rtmpUrl: `${nginx.rtmpUrl}/push3`, status: 'RTMP_STREAM_ACTIVE', callId });
    expect((await gw.rest('/push/find_all', {})).body).toHaveLength(5);

    // Four decodable streams at full frame rate while the fifth target is throttled.
    const probes = await Promise.all([1, 2, 3, 4].map((i) => probeStream(`${nginx.rtmpUrl}/push${i}`, { seconds: 5 })));
    for (const p of probes) {
      expect(p.errors).toEqual([]);
      expect(p.video).toMatchObject({ codec: 'h264', width: 320, height: 240, startsWithKeyframe: true });
      expect(p.audio).toMatchObject({ codec: 'aac', sampleRate: 48000 });
      const pts = p.video?.pts ?? [];
      const fps = (pts.length - 1) / ((pts.at(-1) as number) - (pts[0] as number));
      expect(fps).toBeGreaterThan(23);
    }
    // Still no transcoder process for the call and its six targets.
    expect(ffmpegChildren()).toBe(0);

    // The throttled target (4 kB/s uplink): its queue stays bounded and it does not slow the others.
    // (Loopback kernel buffers absorb ~4 MB before our own queue grows: the drop policy itself is
    // exercised in test/unit/rtmp/reconnect-fanout.test.ts with large frames.)
    const outputs = gw.gw.calls.registry.get(callId).outputs;
    const slowStats = outputs.stats().find((s) => s.endpoint.includes(`:${relay.port}/`));
    expect(slowStats?.status).toBe('RTMP_STREAM_ACTIVE');
    expect(slowStats?.queuedBytes).toBeLessThan(4 * MAX_QUEUE + 256 * 1024);
    expect(relay.forwarded).toBeLessThan((slowStats?.bytesOut ?? 0) / 2);
    const fast = outputs.stats().filter((s) => s.endpoint.startsWith(`rtmp://127.0.0.1:${nginx.rtmpPort}/`));
    expect(fast).toHaveLength(4);
    for (const s of fast) expect(s).toMatchObject({ videoDropped: 0, audioDropped: 0, status: 'RTMP_STREAM_ACTIVE' });
    const probe = await probeStream(`${nginx.rtmpUrl}/push2`, { seconds: 3 });
    const pts = probe.video?.pts ?? [];
    expect((pts.length - 1) / ((pts.at(-1) as number) - (pts[0] as number))).toBeGreaterThan(23);

    // terminate one push; the rest end with the call.
    expect((await gw.rest('/push/terminate', { mediaSessionId: ids[0] })).status).toBe(200);
    expect((await gw.rest('/push/terminate', { mediaSessionId: ids[0] })).status).toBe(404);
    await waitUntil(async () => !(await nginx.publishers()).includes('push1'), 5000, 100, 'push1 unpublished');
    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    for (const id of ids.slice(1)) {
      await hooks.waitFor((e) => e.path === '/PushStatusEvent' && e.body?.mediaSessionId === id && e.body.info === 'call ended', 5000);
    }
    expect((await gw.rest('/push/find_all', {})).status).toBe(404);
    // (The throttled one lingers on nginx until the relay has drained its backlog: not the gateway's doing.)
    await waitUntil(() => outputs.stats().length === 0, 5000, 50, 'every target closed');
    let left: string[] = [];
    await waitUntil(async () => (left = (await nginx.publishers()).filter((n) => n !== 'slow')).length === 0, 10_000, 100, 'every push unpublished')
      .catch((e: unknown) => {
        throw new Error(`${(e as Error).message}: ${left.join(', ')}`);
      });
    await sleep(100);
  }, 120_000);
});
