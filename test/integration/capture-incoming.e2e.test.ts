/**
 * Incoming captures (SPEC §2.9): the far end dials the gateway. A SIPp UAC
 * (pcap H.264 + A-law) calls a declared user part: the call is ESTABLISHED
 * with `incoming: true`, its output decodes as H.264 + AAC, `/call/*` works on
 * it and our BYE ends it. An undeclared user part gets 404, a wrong digest
 * 401 then 403, a source outside `allowedSources` 403, one over the call
 * limit 486. baresip dials a
 * declared capture with live video (the MCU's auto-dial): video decodes.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startSippUac, type SippProcess } from '../helpers/sipp.js';
import { startBaresip, type BaresipFarEnd } from '../helpers/media-baresip.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { freeUdpPort, freeUdpPortRange } from '../helpers/ports.js';
import { probeStream } from '../helpers/ffprobe.js';
import { waitUntil, withTimeout } from '../helpers/wait.js';
import { assertNoChildProcesses } from '../helpers/processes.js';

let gw: TestGateway;
let hooks: WebhookReceiver;
const uacs: SippProcess[] = [];
const phones: BaresipFarEnd[] = [];

beforeAll(async () => {
  hooks = await startWebhookReceiver();
  gw = await startTestGateway({ webhook: { apps: { callApp: hooks.baseUrl } } });
});

afterAll(async () => {
  for (const u of uacs) await u.close();
  for (const p of phones) await p.close();
  await gw?.close();
  await hooks?.close();
  await assertNoChildProcesses();
});

async function dial(userPart: string, extra: { durationMs?: number; waitBye?: boolean; authUser?: string; authPassword?: string } = {}): Promise<SippProcess> {
  const uac = await startSippUac({
    scenario: 'uac-media.xml', remote: `127.0.0.1:${gw.gw.sipPort}`, service: userPart,
    sipPort: await freeUdpPort(), mediaPort: await freeUdpPortRange(4),
    ...(extra.waitBye ? { vars: { wait_bye: '1' } } : {}),
    ...(extra.durationMs === undefined ? {} : { durationMs: extra.durationMs }),
    ...(extra.authUser === undefined ? {} : { authUser: extra.authUser, authPassword: extra.authPassword }),
  });
  uacs.push(uac);
  return uac;
}

const finals = (p: SippProcess): number[] => p.sipMessages()
  .filter((m) => m.direction === 'received' && m.method === 'INVITE' && (m.status ?? 0) >= 200).map((m) => m.status as number);

function callEvents(filter: (b: any) => boolean): any[] {
  return hooks.events.filter((e) => e.path === '/CallStatusEvent' && filter(e.body)).map((e) => e.body);
}

describe('incoming captures', () => {
  it('a declared user part answers a SIPp UAC: ESTABLISHED, incoming, H.264 + AAC out, terminate by REST sends BYE', async () => {
    const created = await gw.rest('/capture/incoming/create', { userPart: 'mcu-room', toStream: 'mcu_room' });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ userPart: 'mcu-room', toStream: 'mcu_room', sipUri: `sip:mcu-room@127.0.0.1:${gw.gw.sipPort}` });
    expect((await gw.rest('/capture/incoming/create', { userPart: 'mcu-room' })).status).toBe(409);

    const uac = await dial('mcu-room', { waitBye: true });
    const est = await hooks.waitFor((e) => e.path === '/CallStatusEvent' && e.body?.toStream === 'mcu_room' && e.body.status === 'ESTABLISHED', 10_000);
    expect(est.body).toMatchObject({ incoming: true, callee: 'mcu-room', caller: 'tester', audioCodec: 'PCMA/8000', videoCodec: 'H264/90000' });
    const callId = est.body.callId as string;
    expect(callEvents((b) => b.callId === callId).map((b) => b.status)).toEqual(['PENDING', 'TRYING', 'ESTABLISHED']);
    await waitUntil(async () => (await gw.rest('/call/find', { callId })).body[0]?.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE', 10_000, 100, 'stream active');
    const p = await probeStream(`${gw.embeddedRtmpUrl}/mcu_room`, { seconds: 3 });
    expect(p.errors).toEqual([]);
    expect(p.video).toMatchObject({ codec: 'h264', startsWithKeyframe: true });
    expect(p.video!.frames).toBeGreaterThan(20);
    expect(p.audio).toMatchObject({ codec: 'aac', sampleRate: 48000 });
    // Our 200 answered their offer: PCMA and H.264 PT 96, our own ports.
    const ok = uac.sipMessages().find((m) => m.direction === 'received' && m.status === 200 && /CSeq:\s*\d+ INVITE/.test(m.text));
    expect(ok?.text).toMatch(/m=audio \d+ RTP\/AVP 8/);
    expect(ok?.text).toMatch(/m=video \d+ RTP\/AVP 96/);

    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    expect(await withTimeout(uac.exited, 10_000, 'uac')).toBe(0);
    expect(uac.sipMessages().some((m) => m.direction === 'received' && m.method === 'BYE')).toBe(true);
  });

  it('undeclared → 404; a wrong digest → 401 then 403; the right one → 200; a source outside allowedSources → 403', async () => {
    const nobody = await dial('nobody');
    expect(await withTimeout(nobody.exited, 10_000, 'uac')).toBe(0);
    expect(finals(nobody)).toEqual([404]);

    expect((await gw.rest('/capture/incoming/create', { userPart: 'secure', sipLogin: 'mcu', sipPassword: 'right-pw' })).status).toBe(200);
    const wrong = await dial('secure', { authUser: 'mcu', authPassword: 'wrong-pw' });
    expect(await withTimeout(wrong.exited, 10_000, 'uac')).toBe(0);
    expect(finals(wrong)).toEqual([401, 403]);
    const right = await dial('secure', { authUser: 'mcu', authPassword: 'right-pw', durationMs: 1500 });
    expect(await withTimeout(right.exited, 15_000, 'uac')).toBe(0);
    expect(finals(right)).toEqual([401, 200]);
    const ended = callEvents((b) => b.toStream === 'secure' && b.status === 'FINISH');
    expect(ended).toHaveLength(1);
    expect(JSON.stringify(hooks.events)).not.toContain('right-pw');
    expect((await gw.rest('/capture/incoming/find', { userPart: 'secure' })).body[0]).not.toHaveProperty('sipPassword');

    expect((await gw.rest('/capture/incoming/create', { userPart: 'lan-only', allowedSources: ['10.0.0.0/8', '192.168.1.7'] })).status).toBe(200);
    const stranger = await dial('lan-only');
    expect(await withTimeout(stranger.exited, 10_000, 'uac')).toBe(0);
    expect(finals(stranger)).toEqual([403]);
    expect((await gw.rest('/capture/incoming/create', { userPart: 'bad', allowedSources: ['not-an-ip'] })).status).toBe(400);
    expect((await gw.rest('/capture/incoming/delete', { userPart: 'lan-only' })).status).toBe(200);
    expect((await gw.rest('/capture/incoming/find', { userPart: 'lan-only' })).status).toBe(404);
  });

  it('baresip dials a declared capture with live video (an MCU\'s auto-dial): the output\'s video decodes', async () => {
    const phone = await startBaresip({ rtpTimeoutS: 0, video: true });
    phones.push(phone);
    expect((await gw.rest('/capture/incoming/create', { userPart: 'board', toStream: 'board_room' })).status).toBe(200);
    phone.dial(`sip:board@127.0.0.1:${gw.gw.sipPort}`);
    const est = await hooks.waitFor((e) => e.path === '/CallStatusEvent' && e.body?.toStream === 'board_room' && e.body.status === 'ESTABLISHED', 15_000);
    expect(est.body).toMatchObject({ incoming: true, videoCodec: 'H264/90000' });
    await waitUntil(async () => (await gw.rest('/call/find', { callId: est.body.callId })).body[0]?.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE', 10_000, 100, 'stream active');
    const p = await probeStream(`${gw.embeddedRtmpUrl}/board_room`, { seconds: 4 });
    expect(p.errors).toEqual([]);
    expect(p.video).toMatchObject({ codec: 'h264', width: 640, height: 360, startsWithKeyframe: true });
    expect(p.video!.frames).toBeGreaterThan(30);
    expect((await gw.rest('/call/terminate', { callId: est.body.callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === est.body.callId && e.body.status === 'FINISH', 10_000);
  });

  it('over rest.maxCalls an incoming capture gets 486 and the live one goes on', async () => {
    await gw.close();
    gw = await startTestGateway({ webhook: { apps: { callApp: hooks.baseUrl } }, rest: { maxCalls: 1 } });
    expect((await gw.rest('/capture/incoming/create', { userPart: 'only-one' })).status).toBe(200);
    const first = await dial('only-one', { waitBye: true });
    const est = await hooks.waitFor((e) => e.path === '/CallStatusEvent' && e.body?.callee === 'only-one' && e.body.status === 'ESTABLISHED', 10_000);
    const second = await dial('only-one');
    expect(await withTimeout(second.exited, 10_000, 'uac')).toBe(0);
    expect(finals(second)).toEqual([486]);
    expect((await gw.rest('/call/find', { callId: est.body.callId })).body[0]).toMatchObject({ status: 'ESTABLISHED' });
    expect((await gw.rest('/call/terminate', { callId: est.body.callId })).status).toBe(200);
    expect(await withTimeout(first.exited, 10_000, 'uac')).toBe(0);
  });
});
