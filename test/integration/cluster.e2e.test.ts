/**
 * Many nodes, one API (SPEC §7 cluster.*): a real redis-server on a free
 * port, three gateway processes joined to it, SIPp far ends. A call started
 * on node A is found, DTMF'd, pushed and terminated through B and C; 50 simultaneous
 * startups of one stream spread over the three nodes give exactly one 200; a
 * full node hands a startup to another (least-loaded); Redis stopped and
 * started under a live call: the call streams on, startups get 503 meanwhile
 * and 200 after; kill -9 of a node during two live calls: each reported
 * FAILED / NODE_LOST once within 10 s, its claims released, the stream
 * starting again on another node, and a `recover: true` capture dialled again
 * by a survivor, linked by parentCallId.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { SippFarEnds } from '../helpers/sipp.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { startNginxRtmp } from '../helpers/nginx.js';
import { waitUntil } from '../helpers/wait.js';
import { assertNoChildProcesses } from '../helpers/processes.js';

let redis: RedisServer;
let hooks: WebhookReceiver;
const nodes: Record<string, GatewayProcess> = {};
const fars = new SippFarEnds();

async function node(nodeId: string, cluster: Record<string, unknown> = {}): Promise<GatewayProcess> {
  const gw = await startGatewayProcess({ nodeId, webhook: { apps: { callApp: hooks.baseUrl } }, cluster: { redisUrl: redis.url, name: 'test', ...cluster } });
  await waitUntil(async () => ((await (await fetch(gw.base.replace('/rest-api', '/healthz'))).json()) as { cluster: string }).cluster === 'ready', 10_000, 100, `${nodeId} in the cluster`);
  nodes[nodeId] = gw;
  return gw;
}

const statuses = (callId: string): string[] => hooks.events.filter((e) => e.path === '/CallStatusEvent' && e.body?.callId === callId).map((e) => e.body.status);

beforeAll(async () => {
  redis = await startRedis();
  hooks = await startWebhookReceiver();
  await Promise.all([node('a'), node('b'), node('c')]);
});

afterAll(async () => {
  await fars.closeAll();
  for (const gw of Object.values(nodes)) await gw.stop();
  await hooks?.close();
  await redis?.stop();
  await assertNoChildProcesses();
});

describe('a cluster of three nodes on Redis', () => {
  it('refuses a second process with a live node id', async () => {
    await expect(startGatewayProcess({ nodeId: 'a', cluster: { redisUrl: redis.url, name: 'test' } })).rejects.toThrow(/"a" is already live in cluster "test"/);
  });

  it('a call started on A is found, DTMF\'d, pushed and terminated through B and C', async () => {
    const far = await fars.uas('uas-answer.xml');
    const callId = 'cluster-call-0001';
    const r = await nodes.a!.rest('/call/startup', { callId, callee: `sip:room@127.0.0.1:${far.sipPort}` });
    expect(r.status).toBe(200);
    expect(r.body.nodeId).toBe('a');
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 10_000);
    const viaB = await nodes.b!.rest('/call/find', { callId });
    expect(viaB.status).toBe(200);
    expect(viaB.body[0]).toMatchObject({ callId, nodeId: 'a', status: 'ESTABLISHED' });
    expect((await nodes.c!.rest('/call/find_all', {})).body.map((c: { callId: string }) => c.callId)).toContain(callId);
    // HLS of A's call asked of B: redirected to A, where the playlist is.
    const hlsOnB = nodes.b!.base.replace('/rest-api', `/hls/${callId}/index.m3u8`);
    const redirect = await fetch(hlsOnB, { redirect: 'manual' });
    expect(redirect.status).toBe(307);
    expect(redirect.headers.get('location')).toBe(nodes.a!.base.replace('/rest-api', `/hls/${callId}/index.m3u8`));
    await waitUntil(async () => (await fetch(hlsOnB)).status === 200, 10_000, 200, 'the playlist through B');
    expect(await (await fetch(hlsOnB)).text()).toMatch(/#EXTM3U[\s\S]*\.ts/);
    // B's dashboard lists the cluster's calls, each with its node.
    await waitUntil(async () => {
      const snap = await (await fetch(nodes.b!.base.replace('/rest-api', '/dashboard/api/calls'))).json() as { calls: { callId: string; nodeId: string }[] };
      return snap.calls.some((c) => c.callId === callId && c.nodeId === 'a');
    }, 5000, 100, 'the call on B\'s dashboard');
    expect((await nodes.c!.rest('/call/send_dtmf', { callId, dtmf: '7', type: 'INFO' })).status).toBe(200);
    await waitUntil(() => far.sipMessages().some((m) => m.direction === 'received' && m.method === 'INFO' && /\r?\n\r?\n7\s*$/.test(m.text)), 5000, 50, 'INFO 7 at the far end');
    // /push for A's call, through B and C: carried out by A.
    const nginx = await startNginxRtmp();
    try {
      const push = await nodes.b!.rest('/push/startup', { streamName: callId, rtmpUrl: `${nginx.rtmpUrl}/cluster_push` });
      expect(push.status, JSON.stringify(push.body)).toBe(200);
      const listed = await nodes.c!.rest('/push/find_all', {});
      expect(listed.body).toEqual([expect.objectContaining({ mediaSessionId: push.body.mediaSessionId, callId })]);
      expect((await nodes.c!.rest('/push/terminate', { mediaSessionId: push.body.mediaSessionId })).status).toBe(200);
      expect((await nodes.b!.rest('/push/terminate', { mediaSessionId: 'no-such-push' })).status).toBe(404);
    } finally {
      await nginx.close();
    }
    expect((await nodes.b!.rest('/call/terminate', { callId: 'no-such-call' })).status).toBe(404);
    expect((await nodes.b!.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    expect(await far.exited, far.errors()).toBe(0);
    await waitUntil(async () => (await nodes.b!.rest('/call/find', { callId })).status === 404, 5000, 50, 'gone from the registry');
  });

  it('50 simultaneous startups of one stream over three nodes: exactly one 200, the rest 409', async () => {
    const all = ['a', 'b', 'c'];
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => nodes[all[i % 3]!]!.rest('/call/startup', {
      callee: 'sip:nobody@127.0.0.1:9', toStream: 'race_stream', rtmpUrl: 'rtmp://127.0.0.1:1/live', rtmpStream: `race_${i}`,
    })));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(49);
    expect(answers.find((a) => a.status === 409)!.body.message).toMatch(/race_stream is already in use/);
    const winner = answers.find((a) => a.status === 200)!.body.callId as string;
    expect((await nodes.c!.rest('/call/terminate', { callId: winner })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === winner && ['FINISH', 'FAILED'].includes(e.body.status), 10_000);
    // Released with the call: the stream can start again.
    await waitUntil(async () => {
      const again = await nodes.b!.rest('/call/startup', { callee: 'sip:nobody@127.0.0.1:9', toStream: 'race_stream' });
      if (again.status === 200) await nodes.b!.rest('/call/terminate', { callId: again.body.callId });
      return again.status === 200;
    }, 5000, 100, 'the stream free again');
  });

  it('Redis stopped under a live call: it streams on, startups get 503 with a clear message, 200 once Redis is back', async () => {
    const far = await fars.uas('uas-answer.xml');
    const callId = 'cluster-outage-0001';
    expect((await nodes.b!.rest('/call/startup', { callId, callee: `sip:room@127.0.0.1:${far.sipPort}` })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE', 10_000);
    await redis.stop();
    await waitUntil(async () => (await nodes.b!.rest('/call/startup', { callee: 'sip:x@127.0.0.1:9' })).status === 503, 10_000, 100, '503 while Redis is away');
    const refused = await nodes.c!.rest('/call/startup', { callee: 'sip:x@127.0.0.1:9' });
    expect(refused.status).toBe(503);
    expect(refused.body.message).toMatch(/cluster registry \(Redis\) is unreachable/);
    await new Promise((r) => setTimeout(r, 2000));
    expect((await nodes.b!.rest('/call/find', { callId })).body[0]).toMatchObject({ status: 'ESTABLISHED', rtmpStreamStatus: 'RTMP_STREAM_ACTIVE' });
    await redis.restart();
    await waitUntil(async () => (await nodes.a!.rest('/call/find', { callId })).status === 200, 15_000, 200, 'the live call registered again');
    const after = await nodes.c!.rest('/call/startup', { callee: 'sip:x@127.0.0.1:9' });
    expect(after.status).toBe(200);
    await nodes.c!.rest('/call/terminate', { callId: after.body.callId });
    expect(statuses(callId)).not.toContain('FAILED');
    expect((await nodes.a!.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
  });

  it('kill -9 of a node during two live calls: FAILED / NODE_LOST once each within 10 s, claims released, a recover capture dialled again', async () => {
    const d = await node('d');
    const farA = await fars.uas('uas-answer.xml');
    const farB = await fars.uas('uas-answer.xml', { calls: 2 });
    const plain = await d.rest('/call/startup', { callId: 'lost-plain', callee: `sip:room@127.0.0.1:${farA.sipPort}`, toStream: 'lost_stream' });
    const kept = await d.rest('/call/startup', { callId: 'lost-recover', callee: `sip:room@127.0.0.1:${farB.sipPort}`, toStream: 'kept_stream', recover: true });
    expect([plain.status, kept.status]).toEqual([200, 200]);
    for (const id of ['lost-plain', 'lost-recover']) await hooks.waitFor((e) => e.body?.callId === id && e.body.status === 'ESTABLISHED', 10_000);
    const killedAt = Date.now();
    await d.kill9();
    delete nodes.d;
    for (const id of ['lost-plain', 'lost-recover']) {
      const lost = await hooks.waitFor((e) => e.body?.callId === id && e.body.status === 'FAILED', 12_000);
      expect(lost.body.info).toBe('NODE_LOST');
      expect(lost.at - killedAt).toBeLessThan(10_000);
    }
    // The recover capture: a survivor dials the same far end again, same stream, linked to the lost call.
    const again = await hooks.waitFor((e) => e.path === '/CallStatusEvent' && e.body?.parentCallId === 'lost-recover' && e.body.status === 'ESTABLISHED', 15_000);
    expect(again.body).toMatchObject({ toStream: 'kept_stream' });
    expect(['a', 'b', 'c']).toContain(again.body.nodeId);
    await new Promise((r) => setTimeout(r, 1000));
    for (const id of ['lost-plain', 'lost-recover']) expect(statuses(id).filter((s) => s === 'FAILED')).toHaveLength(1);
    // Claims released: the plain call's stream starts on another node.
    const restart = await nodes.b!.rest('/call/startup', { callee: 'sip:x@127.0.0.1:9', toStream: 'lost_stream' });
    expect(restart.status).toBe(200);
    await nodes.b!.rest('/call/terminate', { callId: restart.body.callId });
    expect((await nodes.a!.rest('/call/terminate', { callId: again.body.callId })).status).toBe(200);
  });

  it('least-loaded placement: a startup to a full node lands on another, and the answer names it', async () => {
    const e = await node('e', { placement: 'least-loaded', maxCallsPerNode: 1 });
    const first = await e.rest('/call/startup', { callee: 'sip:x@127.0.0.1:9' });
    expect(first.body.nodeId).toBe('e');
    const second = await e.rest('/call/startup', { callee: 'sip:x@127.0.0.1:9' });
    expect(second.status).toBe(200);
    expect(['a', 'b', 'c']).toContain(second.body.nodeId);
    for (const c of [first, second]) await e.rest('/call/terminate', { callId: c.body.callId });
  });

  it('capture.store redis: the node running a scheduled capture is killed (-9); another takes it over and dials again within 15 s', async () => {
    const shared = { capture: { store: 'redis', leadMs: 0 } };
    const f = await startGatewayProcess({ nodeId: 'f', webhook: { apps: { callApp: hooks.baseUrl } }, cluster: { redisUrl: redis.url, name: 'test' }, ...shared });
    const g = await startGatewayProcess({ nodeId: 'g', webhook: { apps: { callApp: hooks.baseUrl } }, cluster: { redisUrl: redis.url, name: 'test' }, ...shared });
    nodes.f = f;
    nodes.g = g;
    const far = await fars.uas('uas-answer.xml', { calls: 2 });
    const now = Date.now();
    const r = await g.rest('/capture/schedule', {
      captureId: 'shared-cap', callee: `sip:room@127.0.0.1:${far.sipPort}`, startAt: new Date(now).toISOString(), endAt: new Date(now + 120_000).toISOString(), retry: { intervalMs: 1000 },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const capEvents = (): any[] => hooks.events.filter((e) => e.path === '/CaptureStatusEvent' && e.body?.captureId === 'shared-cap').map((e) => e.body);
    await waitUntil(() => capEvents().some((c) => c.status === 'LIVE'), 15_000, 100, 'LIVE');
    const runner = capEvents().find((c) => c.status === 'LIVE').nodeId as 'f' | 'g';
    // Exactly one node ran it: one dial so far.
    expect(capEvents().filter((c) => c.status === 'DIALLING')).toHaveLength(1);
    expect((await f.rest('/capture/find', { captureId: 'shared-cap' })).body[0]).toMatchObject({ status: 'LIVE' });
    const survivor = runner === 'f' ? g : f;
    const killedAt = Date.now();
    await nodes[runner]!.kill9();
    delete nodes[runner];
    await waitUntil(() => capEvents().filter((c) => c.status === 'LIVE').length === 2, 20_000, 100, 'LIVE again on the survivor');
    expect(Date.now() - killedAt).toBeLessThan(15_000);
    const again = capEvents().filter((c) => c.status === 'LIVE')[1];
    expect(again.nodeId).toBe(runner === 'f' ? 'g' : 'f');
    expect(capEvents().some((c) => c.status === 'RETRYING' && /taken over by node/.test(c.info))).toBe(true);
    expect((await survivor.rest('/capture/cancel', { captureId: 'shared-cap' })).body).toMatchObject({ status: 'CANCELLED' });
    await waitUntil(() => capEvents().some((c) => c.status === 'CANCELLED'), 5000, 100, 'CANCELLED');
  });
});
