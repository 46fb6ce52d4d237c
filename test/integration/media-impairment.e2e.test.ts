/**
 * Loss and jitter (SPEC §5, §9.1-2): ffmpeg sends H.264 + PCMA through an
 * impairment relay per stream (3 % loss, reordering, duplicates, 50 ms
 * jitter) to the gateway; the video relay answers the gateway's NACKs like a
 * sender with RFC 4585 retransmission would. The RTMP output must decode with
 * no errors, freeze only briefly, and keep audio and video within 100 ms of
 * each other, measured from the output with a flash/beep pattern.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import dgram from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startCodecFarEnd, measureAvOffset, type CodecFarEnd } from '../helpers/media-far-end.js';
import { ImpairmentRelay, nackedSeqs } from '../helpers/impairment-relay.js';
import { probeStream } from '../helpers/ffprobe.js';
import { run } from '../helpers/proc.js';
import { waitUntil } from '../helpers/wait.js';
import { assertNoChildProcesses } from '../helpers/processes.js';

const IMPAIR = { loss: 0.03, reorder: 0.03, duplicate: 0.02, jitterMs: 50 };

let gw: TestGateway;
const fars: CodecFarEnd[] = [];
const relays: ImpairmentRelay[] = [];
const sockets: dgram.Socket[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ rtp: { generateMediaForUa: false } });
});

afterAll(async () => {
  await gw?.close();
  for (const f of fars) await f.close();
  for (const r of relays) await r.close();
  for (const s of sockets) s.close();
  await assertNoChildProcesses();
});

/** Counts RTCP feedback arriving at the far end's video RTCP port and answers NACKs through the relay. */
async function feedbackSink(port: number, relay: () => ImpairmentRelay | undefined) {
  const seen = { nack: 0, pli: 0, fir: 0 };
  const s = dgram.createSocket('udp4');
  s.on('message', (m: Buffer) => {
    for (let o = 0; o + 4 <= m.length; o += (m.readUInt16BE(o + 2) + 1) * 4) {
      const fmt = m[o]! & 0x1f;
      if (m[o + 1] === 205 && fmt === 1) seen.nack++;
      if (m[o + 1] === 206 && fmt === 1) seen.pli++;
      if (m[o + 1] === 206 && fmt === 4) seen.fir++;
    }
    relay()?.retransmit(nackedSeqs(m));
  });
  await new Promise<void>((r) => s.bind(port, '127.0.0.1', () => r()));
  sockets.push(s);
  return seen;
}

/** Publishes a call through relays and records `seconds` of its RTMP output once it runs. */
async function impairedCall(stream: string, impair: Partial<typeof IMPAIR>, seconds: number, answerNacks: boolean) {
  const far = await startCodecFarEnd('pcma', 'h264');
  fars.push(far);
  let videoRelay: ImpairmentRelay | undefined;
  const seen = await feedbackSink(far.videoSink + 1, () => (answerNacks ? videoRelay : undefined));
  expect((await gw.rest('/call/startup', { callee: `sip:service@127.0.0.1:${far.sipPort}`, toStream: stream })).status).toBe(200);
  let seed = 7;
  await far.sendMedia(seconds + 12, async (kind, target) => {
    const relay = await ImpairmentRelay.start({ target, ...impair, seed: seed++ });
    relays.push(relay);
    if (kind === 'video') videoRelay = relay;
    return relay.port;
  }, { syncPattern: true, gop: 12 });
  await waitUntil(async () => (await gw.rest('/call/find', { toStream: stream })).body[0]?.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE', 15_000, 200, 'stream active');
  await new Promise((r) => setTimeout(r, 2000));
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'impair-')), `${stream}.flv`);
  const rec = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', `${gw.embeddedRtmpUrl}/${stream}`, '-t', String(seconds), '-c', 'copy', '-y', file], { timeoutMs: (seconds + 20) * 1000 });
  if (rec.code !== 0) console.log(rec.stderr);
  expect(rec.code).toBe(0);
  return { file, seen, videoRelay: videoRelay! };
}

describe('impaired network', () => {
  it('3 % loss, reordering, duplicates, 50 ms jitter: clean output, bounded freezes, A/V within 100 ms; NACKs answered / PLI when not', async () => {
    const [withNack, withoutNack] = await Promise.all([impairedCall('impaired_nack', IMPAIR, 14, true), impairedCall('impaired_pli', IMPAIR, 14, false)])
      .catch((e: unknown) => {
        const lines = gw.logs().filter((l) => l.level >= 40 || /keyframe|transcoder|RTMP/i.test(l.msg));
        console.log(lines.slice(-40).map((l) => JSON.stringify(l)).join('\n'));
        throw e;
      });
    for (const [label, run] of [['nack', withNack], ['pli', withoutNack]] as const) {
      // Answered NACKs leave nothing frozen; unanswered, a loss freezes the picture until a keyframe arrives intact.
      const r = await judge(run.file, label === 'nack' ? 0.5 : 3, label === 'nack' ? 0.9 : 0.2);
      console.log(JSON.stringify({ label, relay: run.videoRelay.stats, seen: run.seen, ...r }));
      expect(run.videoRelay.stats.dropped, label).toBeGreaterThan(0);
      expect(run.seen.nack, label).toBeGreaterThan(0);
    }
    // Answered NACKs repair the stream: nothing is frozen for long.
    expect(withNack.videoRelay.stats.retransmitted).toBeGreaterThan(0);
    // Unanswered, a loss breaks the GOP: the gateway asks for a keyframe (PLI, then FIR).
    expect(withoutNack.seen.pli).toBeGreaterThan(0);
  });
});

/** Checks a recording: no decode errors, bounded freezes, audio continuous, A/V offset. */
async function judge(file: string, maxFreezeS: number, minFrameShare: number): Promise<{ maxGapS: number; frames: number; avOffsetMs: number }> {
  {
    const probe = await probeStream(file);
    expect(probe.errors).toEqual([]);
    expect(probe.video).toMatchObject({ codec: 'h264', startsWithKeyframe: true });
    expect(probe.audio).toMatchObject({ codec: 'aac' });
    // Frozen time: the longest gap between output video frames.
    const pts = probe.video!.pts;
    let maxGap = 0;
    for (let i = 1; i < pts.length; i++) maxGap = Math.max(maxGap, pts[i]! - pts[i - 1]!);
    expect(maxGap).toBeLessThan(maxFreezeS);
    expect(probe.video!.frames).toBeGreaterThan(14 * 25 * minFrameShare);
    // Audio never stops: ~47 AAC frames a second.
    expect(probe.audio!.frames).toBeGreaterThan(14 * 46);
    const av = await measureAvOffset(file);
    // Unanswered losses freeze video until a keyframe, so some flashes never reach the output: two pairs still measure the offset.
    expect(av.pairs).toBeGreaterThanOrEqual(2);
    expect(Math.abs(av.offsetMs)).toBeLessThan(100);
    return { maxGapS: maxGap, frames: probe.video!.frames, avOffsetMs: av.offsetMs };
  }
}
