/**
 * The real-peer harness tested against itself: nginx-rtmp + ffmpeg + ffprobe,
 * SIPp UAS scenarios called by a SIPp UAC with this test standing in as the
 * caller's media endpoint. Every process is stopped by its own PID and every
 * socket is on 127.0.0.1.
 */
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MEDIA, fixturePaths, makeMedia } from '../fixtures/make-media.js';
import { digestResponse, parseDigestParams, verifyDigest } from '../helpers/digest.js';
import { probeStream, summarizeProbe } from '../helpers/ffprobe.js';
import { startNginxRtmp } from '../helpers/nginx.js';
import { readPcap, writePcap } from '../helpers/pcap.js';
import { freeUdpPort, freeUdpPortRange } from '../helpers/ports.js';
import { spawnChild, stopChild } from '../helpers/proc.js';
import { assertNoChildProcesses, childProcesses } from '../helpers/processes.js';
import { RawSipUac } from '../helpers/raw-sip.js';
import { RtpCollector, parseRtpHeader } from '../helpers/rtp-sink.js';
import { parseSippMessages, startSippUac, startSippUas, type SippProcess } from '../helpers/sipp.js';
import { requireTools } from '../helpers/tools.js';
import { waitUntil, withTimeout } from '../helpers/wait.js';
import { startWebhookReceiver } from '../helpers/webhook.js';

/** Owners opened by a test, closed after it whatever happened. */
const owned: Array<{ close(): Promise<void> }> = [];
function own<T extends { close(): Promise<void> }>(x: T): T {
  owned.push(x);
  return x;
}

afterEach(async () => {
  while (owned.length > 0) await owned.pop()!.close();
});

afterAll(async () => {
  await assertNoChildProcesses(5000);
});

describe('tools and fixtures', () => {
  it('requireTools names the missing tool', () => {
    expect(() => requireTools(['ffmpeg', 'no-such-tool-xyz'])).toThrow(/no-such-tool-xyz/);
    expect(requireTools(['ffmpeg', 'ffprobe', 'sipp', 'nginx'])).toHaveProperty('sipp');
  });

  it('the H.264 pcap holds ~12 s of PT 96 RTP with an in-band SPS before every IDR', async () => {
    await makeMedia();
    const buf = readFileSync(fixturePaths.h264Pcap);
    expect(buf.length).toBeLessThan(2 * 1024 * 1024);
    const pkts = readPcap(buf);
    const spanS = (pkts.at(-1)!.timeUs - pkts[0]!.timeUs) / 1e6;
    expect(spanS).toBeGreaterThan(MEDIA.durationS - 0.5);
    expect(spanS).toBeLessThan(MEDIA.durationS + 0.5);
    let sps = 0;
    let idrStarts = 0;
    let fuA = 0;
    for (const p of pkts) {
      const h = parseRtpHeader(p.payload)!;
      expect(h.payloadType).toBe(96);
      expect(h.ssrc).toBe(MEDIA.videoSsrc);
      const nal = p.payload[h.payloadOffset]! & 0x1f;
      if (nal === 24) {
        // STAP-A (RFC 6184 §5.7.1): walk the aggregated NAL units.
        for (let o = h.payloadOffset + 1; o + 2 < p.payload.length; ) {
          const size = (p.payload[o]! << 8) | p.payload[o + 1]!;
          if ((p.payload[o + 2]! & 0x1f) === 7) sps++;
          o += 2 + size;
        }
      } else if (nal === 28) {
        fuA++;
        const fuHeader = p.payload[h.payloadOffset + 1]!;
        if (fuHeader & 0x80 && (fuHeader & 0x1f) === 5) idrStarts++;
      } else if (nal === 7) {
        sps++;
      }
    }
    expect(sps).toBeGreaterThanOrEqual(MEDIA.durationS);
    expect(idrStarts).toBeGreaterThanOrEqual(MEDIA.durationS);
    expect(fuA).toBeGreaterThan(100);
    // 8000 samples/s of A-law, one byte each.
    expect(readFileSync(fixturePaths.pcmaRaw).length).toBe(8000 * MEDIA.durationS);
  });

  it('writePcap/readPcap round-trip', () => {
    const payload = Uint8Array.from([0x80, 0x60, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4, 9, 9]);
    const back = readPcap(writePcap([{ timeUs: 1_500_000, srcPort: 1, dstPort: 2, payload }]));
    expect(back).toHaveLength(1);
    expect(back[0]).toMatchObject({ timeUs: 1_500_000, srcPort: 1, dstPort: 2, srcIp: '127.0.0.1' });
    expect(Buffer.from(back[0]!.payload).equals(Buffer.from(payload))).toBe(true);
  });

  it('summarizeProbe counts frames and keyframes per track', () => {
    const s = summarizeProbe({
      streams: [
        { index: 0, codec_type: 'video', codec_name: 'h264', width: 320, height: 240 },
        { index: 1, codec_type: 'audio', codec_name: 'aac', sample_rate: '48000', channels: 1 },
      ],
      frames: [
        { media_type: 'video', stream_index: 0, key_frame: 1, best_effort_timestamp_time: '0.000' },
        { media_type: 'audio', stream_index: 1, key_frame: 1, best_effort_timestamp_time: '0.010' },
        { media_type: 'video', stream_index: 0, key_frame: 0, best_effort_timestamp_time: '0.040' },
      ],
    });
    expect(s.video).toMatchObject({ codec: 'h264', frames: 2, keyframes: 1, startsWithKeyframe: true });
    expect(s.audio).toMatchObject({ codec: 'aac', sampleRate: 48000, channels: 1, frames: 1 });
    expect(s.durationS).toBeCloseTo(0.04);
  });
});

describe('nginx RTMP + ffmpeg + ffprobe', () => {
  it('a published H.264/AAC stream decodes live over RTMP and from its recording', async () => {
    const nginx = own(await startNginxRtmp());
    const url = `${nginx.rtmpUrl}/harness`;
    const ff = spawnChild('ffmpeg', [
      '-hide_banner', '-nostdin', '-loglevel', 'error', '-re',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25',
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '6',
      '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '25', '-bf', '0', '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-ar', '48000', '-ac', '1',
      '-f', 'flv', url,
    ]);
    own({ close: () => stopChild(ff.child, ff.exited) });
    await waitUntil(async () => (await nginx.publishers()).includes('harness'), 10_000, 100, 'publisher never appeared');

    const live = await probeStream(url, { seconds: 3 });
    expect(live.errors).toEqual([]);
    expect(live.video).toMatchObject({ codec: 'h264', width: 320, height: 240 });
    expect(live.video!.frames).toBeGreaterThan(30);
    expect(live.video!.keyframes).toBeGreaterThanOrEqual(1);
    expect(live.audio).toMatchObject({ codec: 'aac', sampleRate: 48000, channels: 1 });
    expect(live.audio!.frames).toBeGreaterThan(50);

    expect(await withTimeout(ff.exited, 15_000, 'ffmpeg publish')).toBe(0);
    await waitUntil(async () => (await nginx.publishers()).length === 0, 5000, 100, 'publisher still listed');
    const files = nginx.recordings();
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/harness.*\.flv$/);
    const rec = await probeStream(files[0]!);
    expect(rec.errors).toEqual([]);
    expect(rec.video?.codec).toBe('h264');
    expect(rec.audio?.codec).toBe('aac');
    expect(rec.durationS).toBeGreaterThan(5);
    expect(rec.video!.startsWithKeyframe).toBe(true);
  });

  it('stop/start keeps the port, and dropPublisher disconnects a publisher', async () => {
    const nginx = own(await startNginxRtmp());
    const pid1 = nginx.pid;
    await nginx.restart();
    expect(nginx.pid).not.toBe(pid1);
    const ff = spawnChild('ffmpeg', [
      '-hide_banner', '-nostdin', '-loglevel', 'error', '-re',
      '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25', '-t', '30',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p',
      '-f', 'flv', `${nginx.rtmpUrl}/victim`,
    ]);
    own({ close: () => stopChild(ff.child, ff.exited) });
    await waitUntil(async () => (await nginx.publishers()).includes('victim'), 10_000, 100, 'publisher never appeared');
    expect(await nginx.dropPublisher('victim')).toBe(1);
    // ffmpeg notices the broken connection and fails.
    const code = await withTimeout(ff.exited, 15_000, 'ffmpeg after drop');
    expect(code).not.toBe(0);
  });
});

describe('webhook receiver', () => {
  it('records POSTs, answers the configured status, and waitFor sees past and future events', async () => {
    const wh = own(await startWebhookReceiver({ status: (_ev, i) => (i === 0 ? 500 : 200) }));
    const post = (body: unknown): Promise<Response> =>
      fetch(`${wh.baseUrl}/CallStatusEvent`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post({ status: 'TRYING' })).status).toBe(500);
    const later = wh.waitFor((e) => e.body?.status === 'ESTABLISHED', 2000);
    expect((await post({ status: 'ESTABLISHED' })).status).toBe(200);
    expect((await later).path).toBe('/CallStatusEvent');
    expect((await wh.waitFor((e) => e.body?.status === 'TRYING')).body).toEqual({ status: 'TRYING' });
    await expect(wh.waitFor(() => false, 100)).rejects.toThrow(/no matching event/);
    expect(wh.events.map((e) => e.body.status)).toEqual(['TRYING', 'ESTABLISHED']);
  });
});

describe('SIPp scenarios', () => {
  interface Call {
    uas: SippProcess;
    uac: SippProcess;
    audio: RtpCollector;
    video: RtpCollector;
  }

  /** The UAS under test, called by uac-plain.xml whose SDP points at this test's sockets. */
  async function call(
    scenario: string,
    uasOpts: { durationMs?: number; authUser?: string; authPassword?: string; vars?: Record<string, string> },
    uacOpts: { durationMs?: number; authUser?: string; authPassword?: string; waitBye?: boolean },
  ): Promise<Call> {
    const mediaBase = await freeUdpPortRange(8);
    const audio = own(await RtpCollector.bind(mediaBase + 4));
    const video = own(await RtpCollector.bind(mediaBase + 6));
    const uas = own(
      await startSippUas({ scenario, sipPort: await freeUdpPort(), mediaPort: mediaBase, ...uasOpts }),
    );
    const uac = own(
      await startSippUac({
        scenario: 'uac-plain.xml',
        remote: `127.0.0.1:${uas.sipPort}`,
        sipPort: await freeUdpPort(),
        mediaPort: await freeUdpPortRange(4),
        vars: {
          audio_port: String(audio.port),
          video_port: String(video.port),
          ...(uacOpts.waitBye ? { wait_bye: '1' } : {}),
        },
        durationMs: uacOpts.durationMs,
        authUser: uacOpts.authUser,
        authPassword: uacOpts.authPassword,
      }),
    );
    return { uas, uac, audio, video };
  }

  function flow(p: SippProcess): string[] {
    return p.sipMessages().map((m) => `${m.direction === 'sent' ? '>' : '<'} ${m.status ?? m.method}`);
  }

  it('uas-answer: answers PCMA + H.264, sends video (pcap) and audio (rtp_stream), logs INFO, ends on BYE', async () => {
    const c = await call('uas-answer.xml', {}, { durationMs: 3000 });
    expect(await withTimeout(c.uac.exited, 20_000, 'uac')).toBe(0);
    expect(await withTimeout(c.uas.exited, 5000, 'uas'), c.uas.errors()).toBe(0);

    // ~4 s of call: 50 audio packets/s of 160 bytes (20 ms of A-law) from [media_port].
    const a = c.audio.stats.get(8);
    expect(a?.packets).toBeGreaterThan(120);
    expect(a!.payloadBytes / a!.packets).toBe(160);
    expect(a!.from).toBe(`127.0.0.1:${c.uas.mediaPort}`);
    const v = c.video.stats.get(96);
    expect(v?.packets).toBeGreaterThan(150);
    expect(v!.ssrcs).toEqual(new Set([MEDIA.videoSsrc]));
    expect(v!.markers).toBeGreaterThan(50); // one per frame: 25 fps

    const answer = c.uac.sipMessages().find((m) => m.status === 200 && m.method === 'INVITE')!;
    expect(answer.text).toMatch(new RegExp(`m=audio ${c.uas.mediaPort} RTP/AVP 8 101`));
    expect(answer.text).toMatch(new RegExp(`m=video ${c.uas.mediaPort + 2} RTP/AVP 96`));
    expect(answer.text).toContain('a=fmtp:96 profile-level-id=42e01f;packetization-mode=1');
    expect(flow(c.uas)).toEqual(['< INVITE', '> 100', '> 180', '> 200', '< ACK', '< INFO', '> 200', '< BYE', '> 200']);
    expect(c.uas.logs()).toMatch(/INFO Content-Type: application\/dtmf-relay body:Signal=5/);
  });

  it('uas-bye: hangs up by itself after -d ms and expects 200', async () => {
    const c = await call('uas-bye.xml', { durationMs: 2500 }, { waitBye: true });
    expect(await withTimeout(c.uac.exited, 20_000, 'uac')).toBe(0);
    expect(await withTimeout(c.uas.exited, 5000, 'uas'), c.uas.errors()).toBe(0);
    expect(flow(c.uas).slice(-2)).toEqual(['> BYE', '< 200']);
    const bye = c.uas.sipMessages().find((m) => m.method === 'BYE')!;
    expect(bye.firstLine).toMatch(/^BYE sip:tester@127\.0\.0\.1:\d+/);
    expect(c.audio.packets(8)).toBeGreaterThan(80);
    expect(c.video.packets(96)).toBeGreaterThan(100);
  });

  it('uas-busy: 100 then 486, expects the ACK', async () => {
    const c = await call('uas-busy.xml', {}, {});
    expect(await withTimeout(c.uac.exited, 10_000, 'uac')).toBe(0);
    expect(await withTimeout(c.uas.exited, 5000, 'uas'), c.uas.errors()).toBe(0);
    expect(flow(c.uas)).toEqual(['< INVITE', '> 100', '> 486', '< ACK']);
    expect(c.audio.packets(8) + c.video.packets(96)).toBe(0);
  });

  it('uas-auth: 401 challenge, then 200 for the right MD5 digest', async () => {
    const creds = { authUser: 'alice', authPassword: 's3cret' };
    const c = await call('uas-auth.xml', creds, { ...creds, durationMs: 1500 });
    expect(await withTimeout(c.uac.exited, 20_000, 'uac')).toBe(0);
    expect(await withTimeout(c.uas.exited, 5000, 'uas'), c.uas.errors()).toBe(0);
    const invites = c.uas.sipMessages().filter((m) => m.direction === 'received' && m.firstLine.startsWith('INVITE'));
    expect(invites).toHaveLength(2);
    expect(invites[1]!.text).toMatch(/^Authorization: Digest username="alice",.*qop=auth/m);
    expect(flow(c.uas).slice(0, 6)).toEqual(['< INVITE', '> 401', '< ACK', '< INVITE', '> 100', '> 180']);
    expect(c.uas.logs()).toContain('digest authentication succeeded');
    expect(c.audio.packets(8)).toBeGreaterThan(20);
  });

  it('uas-auth: 403 for a wrong password, and SIPp exits non-zero', async () => {
    const c = await call('uas-auth.xml', { authUser: 'alice', authPassword: 's3cret' }, { authUser: 'alice', authPassword: 'wrong' });
    expect(await withTimeout(c.uac.exited, 10_000, 'uac')).toBe(0);
    expect(await withTimeout(c.uas.exited, 5000, 'uas')).not.toBe(0);
    expect(flow(c.uas)).toEqual(['< INVITE', '> 401', '< ACK', '< INVITE', '> 403', '< ACK']);
    expect(c.uas.logs()).toContain('digest authentication failed');
  });

  it('close() stops a waiting UAS by its PID', async () => {
    const mediaBase = await freeUdpPortRange(4);
    const uas = await startSippUas({ scenario: 'uas-answer.xml', sipPort: await freeUdpPort(), mediaPort: mediaBase });
    expect(childProcesses().map((p) => p.pid)).toContain(uas.pid);
    await uas.close();
    await uas.close();
    expect(childProcesses().map((p) => p.pid)).not.toContain(uas.pid);
  });

  it('uas-auth-sha256: challenges with SHA-256 and logs the Authorization for verifyDigest', async () => {
    const mediaBase = await freeUdpPortRange(8);
    const audio = own(await RtpCollector.bind(mediaBase + 4));
    const video = own(await RtpCollector.bind(mediaBase + 6));
    const uas = own(await startSippUas({ scenario: 'uas-auth-sha256.xml', sipPort: await freeUdpPort(), mediaPort: mediaBase }));
    const ua = own(await RawSipUac.open(uas.sipPort));
    const sdp = [
      'v=0', 'o=raw 1 1 IN IP4 127.0.0.1', 's=raw', 'c=IN IP4 127.0.0.1', 't=0 0',
      `m=audio ${audio.port} RTP/AVP 8 101`, 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000',
      `m=video ${video.port} RTP/AVP 96`, 'a=rtpmap:96 H264/90000', 'a=fmtp:96 packetization-mode=1', '',
    ].join('\r\n');
    const challenge = await ua.request('INVITE', 1, [], sdp);
    expect(challenge.status).toBe(401);
    ua.ack(challenge, 1);
    const www = /^WWW-Authenticate:(.*)$/im.exec(challenge.text)![1]!;
    const ch = parseDigestParams(www);
    expect(ch.algorithm).toBe('SHA-256');
    const input = {
      algorithm: 'SHA-256' as const, username: 'bob', realm: ch.realm!, password: 'pw', method: 'INVITE',
      uri: ua.uri, nonce: ch.nonce!, qop: 'auth' as const, nc: '00000001', cnonce: 'c0ffee',
    };
    const authz = `Digest username="bob", realm="${input.realm}", nonce="${input.nonce}", uri="${ua.uri}", ` +
      `response="${digestResponse(input)}", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="c0ffee"`;
    const ok = await ua.request('INVITE', 2, [`Authorization: ${authz}`], sdp);
    expect(ok.status).toBe(200);
    ua.ack(ok, 2);
    await waitUntil(() => audio.packets(8) > 10 && video.packets(96) > 10, 5000, 50, 'no media after auth');
    const bye = await ua.request('BYE', 3, [], undefined, ok);
    expect(bye.status).toBe(200);
    expect(await withTimeout(uas.exited, 5000, 'uas'), uas.errors()).toBe(0);
    const logged = /^AUTHORIZATION (.*)$/m.exec(uas.logs())![1]!;
    expect(verifyDigest(logged, { method: 'INVITE', password: 'pw' })).toBe(true);
    expect(verifyDigest(logged, { method: 'INVITE', password: 'nope' })).toBe(false);
  });

  it('digestResponse matches the RFC 7616 section 3.9.1 examples', () => {
    const base = {
      username: 'Mufasa', realm: 'http-auth@example.org', password: 'Circle of Life', method: 'GET',
      uri: '/dir/index.html', nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v', qop: 'auth' as const,
      nc: '00000001', cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
    };
    expect(digestResponse({ ...base, algorithm: 'MD5' })).toBe('8ca523f5e9506fed4657c9700eebdbec');
    expect(digestResponse({ ...base, algorithm: 'SHA-256' })).toBe(
      '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
    );
  });

  it('parseSippMessages reads both directions of the trace_msg format', () => {
    const log = [
      '----------------------------------------------- 2026-01-01 00:00:00.000000',
      'UDP message received [100] bytes :',
      '',
      'INVITE sip:service@127.0.0.1:5060 SIP/2.0',
      'CSeq: 1 INVITE',
      '',
      '----------------------------------------------- 2026-01-01 00:00:00.000001',
      'UDP message sent (50 bytes):',
      '',
      'SIP/2.0 486 Busy Here',
      'CSeq: 1 INVITE',
      '',
    ].join('\n');
    expect(parseSippMessages(log).map((m) => [m.direction, m.method, m.status])).toEqual([
      ['received', 'INVITE', null],
      ['sent', 'INVITE', 486],
    ]);
  });
});
