/**
 * Scheduled captures (SPEC §2.9) against a real SIPp far end that is busy at
 * the first dial and answers the second: the schedule survives a gateway
 * restart between /capture/schedule and startAt (SQLite store), the capture
 * dials at startAt, retries, goes LIVE, sends its passcode (INFO digits seen
 * by the far end), hangs up at endAt (BYE), and its CaptureStatusEvents come
 * in order. Validation, 409 overlaps, find / update / cancel on the REST API.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { SippFarEnds } from '../helpers/sipp.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { waitUntil } from '../helpers/wait.js';
import { assertNoChildProcesses } from '../helpers/processes.js';

let gw: TestGateway | undefined;
let hooks: WebhookReceiver;
const fars = new SippFarEnds();
const dir = mkdtempSync(path.join(tmpdir(), 'gw-capture-'));
const STORE = path.join(dir, 'captures.db');

const iso = (ms: number): string => new Date(ms).toISOString();

function gateway(): Promise<TestGateway> {
  return startTestGateway({ webhook: { apps: { callApp: hooks.baseUrl } }, capture: { path: STORE, leadMs: 0 } });
}

function captureEvents(captureId: string): any[] {
  return hooks.events.filter((e) => e.path === '/CaptureStatusEvent' && e.body?.captureId === captureId).map((e) => e.body);
}

beforeAll(async () => {
  hooks = await startWebhookReceiver();
  gw = await gateway();
});

afterAll(async () => {
  await fars.closeAll();
  await gw?.close();
  await hooks?.close();
  rmSync(dir, { recursive: true, force: true });
  await assertNoChildProcesses();
});

describe('/capture/schedule', () => {
  it('survives a restart, dials at startAt, retries a busy far end, goes LIVE with its passcode, hangs up at endAt', async () => {
    const far = await fars.uas('uas-second-answer.xml', { calls: 2 });
    const captureId = 'board-meeting';
    const startAt = Date.now() + 5000;
    const endAt = startAt + 9000;
    const r = await gw!.rest('/capture/schedule', {
      captureId, callee: `sip:room@127.0.0.1:${far.sipPort}`, hasVideo: false, sipPassword: 'secret-pw',
      startAt: iso(startAt), endAt: iso(endAt), retry: { intervalMs: 1000 },
      joinDtmf: { digits: '1234#', type: 'INFO', delayMs: 200 },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ captureId, kind: 'scheduled', status: 'SCHEDULED', attempt: 0, callId: null, toStream: captureId, startAt: iso(startAt) });
    expect(JSON.stringify(r.body)).not.toContain('secret-pw');

    // Restarted before startAt: the schedule is in the store, the new process fires it.
    await gw!.close();
    gw = await gateway();
    expect((await gw.rest('/capture/find', { captureId })).body[0]).toMatchObject({ captureId, status: 'SCHEDULED' });

    await hooks.waitFor((e) => e.path === '/CaptureStatusEvent' && e.body?.captureId === captureId && e.body.status === 'LIVE', 20_000);
    const live = captureEvents(captureId).at(-1);
    expect(live).toMatchObject({ attempt: 2, callId: `${captureId}-2` });
    expect(Date.now()).toBeGreaterThanOrEqual(startAt);
    const call = (await gw.rest('/call/find', { callId: `${captureId}-2` })).body[0];
    expect(call).toMatchObject({ parentCallId: captureId, status: 'ESTABLISHED', toStream: captureId });

    await hooks.waitFor((e) => e.path === '/CaptureStatusEvent' && e.body?.captureId === captureId && e.body.status === 'ENDED', 20_000);
    expect(Date.now()).toBeGreaterThanOrEqual(endAt - 100);
    expect(captureEvents(captureId).map((c) => `${c.status} ${c.attempt}`)).toEqual([
      'SCHEDULED 0', 'DIALLING 1', 'RETRYING 1', 'DIALLING 2', 'LIVE 2', 'ENDED 2',
    ]);
    expect(captureEvents(captureId)[2].info).toMatch(/BUSY/);
    expect(await far.exited, far.errors()).toBe(0);
    expect(far.logs()).toMatch(/ANSWERED 2/);
    const infos = far.sipMessages().filter((m) => m.direction === 'received' && m.method === 'INFO').map((m) => m.text.trim().split(/\r?\n/).at(-1));
    expect(infos).toEqual(['1', '2', '3', '4', '#']);
    expect(far.sipMessages().some((m) => m.direction === 'received' && m.method === 'BYE')).toBe(true);
    await hooks.waitFor((e) => e.path === '/CallStatusEvent' && e.body?.callId === `${captureId}-2` && e.body.status === 'FINISH', 5000);
  });

  it('a far end that hangs up mid-capture is dialled again (LIVE → RETRYING → LIVE); one always busy FAILS after retry.maxAttempts', async () => {
    const dropper = await fars.uas('uas-bye.xml', { calls: 2, durationMs: 1500 });
    const busy = await fars.uas('uas-busy.xml', { calls: 2 });
    const now = Date.now();
    const common = { hasVideo: false, startAt: iso(now), endAt: iso(now + 60_000) };
    expect((await gw!.rest('/capture/schedule', { ...common, captureId: 'drops', callee: `sip:room@127.0.0.1:${dropper.sipPort}` })).status).toBe(200);
    expect((await gw!.rest('/capture/schedule', {
      ...common, captureId: 'always-busy', callee: `sip:room@127.0.0.1:${busy.sipPort}`, retry: { intervalMs: 1000, maxAttempts: 2 },
    })).status).toBe(200);
    await hooks.waitFor((e) => e.path === '/CaptureStatusEvent' && e.body?.captureId === 'always-busy' && e.body.status === 'FAILED', 15_000);
    expect(captureEvents('always-busy').map((c) => `${c.status} ${c.attempt}`)).toEqual(['SCHEDULED 0', 'DIALLING 1', 'RETRYING 1', 'DIALLING 2', 'FAILED 2']);
    expect(captureEvents('always-busy').at(-1).info).toMatch(/BUSY.*attempt 2 of 2/);
    await waitUntil(() => captureEvents('drops').filter((c) => c.status === 'LIVE').length === 2, 15_000, 100, 'LIVE twice');
    expect(captureEvents('drops').map((c) => `${c.status} ${c.attempt}`)).toEqual(['SCHEDULED 0', 'DIALLING 1', 'LIVE 1', 'RETRYING 1', 'DIALLING 2', 'LIVE 2']);
    expect(captureEvents('drops')[3].info).toMatch(/FINISH/);
    expect((await gw!.rest('/capture/cancel', { captureId: 'drops' })).body).toMatchObject({ status: 'CANCELLED', attempt: 2 });
    await hooks.waitFor((e) => e.path === '/CallStatusEvent' && e.body?.callId === 'drops-2' && e.body.status === 'FINISH', 10_000);
    expect(await busy.exited, busy.errors()).toBe(0);
  });

  it('validates times, refuses overlaps on the same target (409), finds, updates and cancels', async () => {
    const base = { callee: 'sip:room@127.0.0.1:9', rtmpUrl: 'rtmp://127.0.0.1:1/live', rtmpStream: 'room7' };
    const t = Date.now() + 3_600_000;
    const bad = async (body: object, field: RegExp): Promise<void> => {
      const res = await gw!.rest('/capture/schedule', { ...base, ...body });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.message).toMatch(field);
    };
    await bad({ startAt: iso(t), endAt: iso(t - 1000) }, /endAt: must be after startAt/);
    await bad({ startAt: iso(t - 7_200_000), endAt: iso(t - 3_700_000) }, /endAt: is in the past/);
    await bad({ startAt: iso(t), endAt: iso(t + 13 * 3_600_000) }, /capture\.maxDurationS/);
    await bad({ startAt: '2026-12-08 10:00', endAt: iso(t) }, /startAt: an ISO 8601 time with an offset/);
    await bad({ startAt: iso(t), endAt: iso(t + 60_000), retry: { intervalMs: 10 } }, /retry\.intervalMs/);

    const a = await gw!.rest('/capture/schedule', { ...base, captureId: 'weekly-a', startAt: iso(t), endAt: iso(t + 3_600_000) });
    expect(a.status).toBe(200);
    const overlap = await gw!.rest('/capture/schedule', { ...base, captureId: 'weekly-b', startAt: iso(t + 1_800_000), endAt: iso(t + 5_400_000) });
    expect(overlap.status).toBe(409);
    expect(overlap.body.message).toMatch(/weekly-a overlaps on the same rtmpUrl \+ rtmpStream/);
    expect((await gw!.rest('/capture/schedule', { ...base, captureId: 'weekly-a', rtmpStream: 'other', startAt: iso(t + 7_200_000), endAt: iso(t + 9_000_000) })).status).toBe(409);
    const after = await gw!.rest('/capture/schedule', { ...base, captureId: 'weekly-b', startAt: iso(t + 3_600_000), endAt: iso(t + 5_400_000) });
    expect(after.status).toBe(200);
    // A generated id when none is given; the passcode as plain digits.
    const gen = await gw!.rest('/capture/schedule', { ...base, rtmpStream: 'room8', joinDtmf: '99#', joinDtmfDelayMs: 5000, startAt: iso(t), endAt: iso(t + 60_000) });
    expect(gen.body.captureId).toMatch(/^cap_/);
    expect(gen.body.joinDtmf).toEqual({ digits: '99#', delayMs: 5000, type: 'RFC2833' });

    expect((await gw!.rest('/capture/find', { captureId: 'nope' })).status).toBe(404);
    expect((await gw!.rest('/capture/find_all', {})).body.map((c: { captureId: string }) => c.captureId)).toEqual(expect.arrayContaining(['weekly-a', 'weekly-b', gen.body.captureId]));

    const moved = await gw!.rest('/capture/update', { captureId: 'weekly-b', startAt: iso(t + 3_700_000), visibleName: 'Board' });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ startAt: iso(t + 3_700_000), visibleName: 'Board', rtmpStream: 'room7', status: 'SCHEDULED' });
    expect((await gw!.rest('/capture/update', { captureId: 'weekly-b', endAt: iso(t + 1_000_000) })).status).toBe(400);
    expect((await gw!.rest('/capture/update', { captureId: 'weekly-b', startAt: iso(t + 1_000_000) })).status).toBe(409);

    const cancelled = await gw!.rest('/capture/cancel', { captureId: 'weekly-a' });
    expect(cancelled.body).toMatchObject({ status: 'CANCELLED' });
    expect((await gw!.rest('/capture/cancel', { captureId: 'weekly-a' })).status).toBe(409);
    expect((await gw!.rest('/capture/update', { captureId: 'weekly-a', endAt: iso(t + 100_000) })).status).toBe(409);
    await waitUntil(() => captureEvents('weekly-a').some((c) => c.status === 'CANCELLED'), 5000, 50, 'CANCELLED event');
    expect(captureEvents('weekly-a').map((c) => c.status)).toEqual(['SCHEDULED', 'CANCELLED']);
    for (const id of ['weekly-b', gen.body.captureId]) expect((await gw!.rest('/capture/cancel', { captureId: id })).status).toBe(200);
  });
});
