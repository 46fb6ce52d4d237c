/**
 * `record: true` (WCS's record flag) against real peers: a SIPp far end with
 * ffmpeg sending H.264 + PCMU, the call recorded as FLV under recording.dir;
 * ffprobe decodes H.264 + AAC from the file with the call's duration. A full
 * disk (a 96 KiB tmpfs mounted by the test) stops the recording, never the
 * call: it stays ESTABLISHED and streaming, ends normally, and the file it
 * left is still playable.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startCodecFarEnd, type CodecFarEnd } from '../helpers/media-far-end.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { probeStream } from '../helpers/ffprobe.js';
import { waitUntil } from '../helpers/wait.js';
import { assertNoChildProcesses } from '../helpers/processes.js';

let gw: TestGateway | undefined;
let hooks: WebhookReceiver;
const fars: CodecFarEnd[] = [];
const dirs: string[] = [];
let mounted: string | undefined;

beforeAll(async () => {
  hooks = await startWebhookReceiver();
});

afterAll(async () => {
  await gw?.close();
  for (const f of fars) await f.close();
  await hooks?.close();
  if (mounted) execFileSync('umount', [mounted]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await assertNoChildProcesses();
});

function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'gw-rec-'));
  dirs.push(d);
  return d;
}

function events(callId: string): any[] {
  return hooks.events.filter((e) => e.path === '/CallStatusEvent' && e.body?.callId === callId).map((e) => e.body);
}

async function recordedCall(callId: string, seconds: number): Promise<CodecFarEnd> {
  const far = await startCodecFarEnd('pcmu', 'h264');
  fars.push(far);
  const r = await gw!.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, toStream: callId, record: true });
  expect(r.status).toBe(200);
  await far.sendMedia(seconds);
  await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 10_000);
  return far;
}

describe('record: true', () => {
  it('writes the call as FLV that ffprobe decodes (H.264 + AAC), its duration within 1 s of the call\'s; the path is in find and the final event', async () => {
    const dir = tempDir();
    gw = await startTestGateway({ webhook: { apps: { callApp: hooks.baseUrl } }, rtp: { generateMediaForUa: false }, recording: { dir } });
    const callId = 'record-0001';
    await recordedCall(callId, 30);
    const established = Date.now();
    const path1 = await waitUntil(async () => (await gw!.rest('/call/find', { callId })).body[0]?.recordingPath as string | null, 10_000, 100, 'recordingPath');
    expect(path.dirname(path1)).toBe(dir);
    expect(path.basename(path1)).toMatch(/^record-0001_\d{8}-\d{6}_record-0001\.flv$/);
    await new Promise((r) => setTimeout(r, 5000));
    expect((await gw!.rest('/call/terminate', { callId })).status).toBe(200);
    const callSeconds = (Date.now() - established) / 1000;
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    expect(events(callId).at(-1)).toMatchObject({ recordingPath: path1, recordingStopped: null });
    await gw.close();
    gw = undefined;

    const p = await probeStream(path1);
    expect(p.errors).toEqual([]);
    expect(p.video).toMatchObject({ codec: 'h264', width: 320, height: 240, startsWithKeyframe: true });
    expect(p.audio).toMatchObject({ codec: 'aac', sampleRate: 48000 });
    expect(Math.abs(p.durationS - callSeconds)).toBeLessThan(1);
    // The onMetaData duration was patched in when the file was closed.
    const meta = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'json', path1], { encoding: 'utf8' })) as { format: { duration: string } };
    expect(Math.abs(Number(meta.format.duration) - p.durationS)).toBeLessThan(0.5);
  });

  it('a full disk stops the recording (recordingStopped DISK_FULL), not the call; the file left is playable', async () => {
    const dir = tempDir();
    // A real full disk: a small tmpfs (the test runs as root, like CI). The guard is off (minFreeBytes 0), so the write itself fails with ENOSPC.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=96k,mode=0755', 'tmpfs', dir]);
    mounted = dir;
    gw = await startTestGateway({
      webhook: { apps: { callApp: hooks.baseUrl } }, rtp: { generateMediaForUa: false }, recording: { dir, minFreeBytes: 0 },
    });
    const callId = 'record-full-0001';
    await recordedCall(callId, 60);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.recordingStopped !== null, 45_000);
    const stoppedAt = events(callId).find((b) => b.recordingStopped !== null);
    expect(stoppedAt).toMatchObject({ status: 'ESTABLISHED', rtmpStreamStatus: 'RTMP_STREAM_ACTIVE', recordingStopped: 'DISK_FULL' });
    // The call streams on: the embedded server still serves it, and it ends normally.
    const live = await probeStream(`${gw.embeddedRtmpUrl}/${callId}`, { seconds: 3 });
    expect(live.errors).toEqual([]);
    expect(live.video!.frames).toBeGreaterThan(40);
    expect((await gw.rest('/call/find', { callId })).body[0]).toMatchObject({ status: 'ESTABLISHED', recordingStopped: 'DISK_FULL' });
    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    expect(events(callId).at(-1)).toMatchObject({ info: 'NORMAL_CALL_CLEARING', recordingStopped: 'DISK_FULL' });
    const file = stoppedAt.recordingPath as string;
    expect(statSync(file).size).toBeGreaterThan(40_000);
    const p = await probeStream(file);
    expect(p.errors).toEqual([]);
    expect(p.video).toMatchObject({ codec: 'h264', startsWithKeyframe: true });
    expect(p.video!.frames).toBeGreaterThan(10);
  });
});
