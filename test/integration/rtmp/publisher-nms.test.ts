/**
 * RtmpPublisher against the real embedded node-media-server, verified by
 * ffprobe over RTMP and by our demuxer over HTTP-FLV.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import net from 'node:net';
import http from 'node:http';
import { startEmbeddedServer, type EmbeddedServer } from '../../../src/rtmp/embedded.js';
import { runNodeMediaServer } from '../../../src/rtmp/embedded-nms.js';
import { RtmpPublisher, type PublisherStatus } from '../../../src/rtmp/publisher.js';
import { avcSequenceHeader, avcFrame, aacSequenceHeader, aacFrame, onMetaData, type FlvTag } from '../../../src/pipeline/flv.js';
import { FlvDemuxer } from '../../../src/pipeline/flv-file.js';
import { InvalidStateError } from '../../../src/shared/errors.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { makeTestMedia, runBuffer, type TestMedia } from '../../helpers/test-media.js';
import { freeTcpPort } from '../../helpers/ports.js';

/** Free ports picked before the tests: the embedded server's, and spare ones. */
let RTMP_PORT = 0;
let HTTP_PORT = 0;
const spare: number[] = [];
const log = silentLogger();
const nmsLog = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function tagsOf(m: TestMedia): FlvTag[] {
  const tags: FlvTag[] = [];
  m.video.forEach((au, i) => tags.push(avcFrame(au.nalus, au.key, 0, i * 40)));
  m.audio.forEach((raw, i) => tags.push(aacFrame(raw, Math.round((i * 1024) / 48))));
  return tags.sort((a, b) => a.timestamp - b.timestamp);
}

function headersOf(m: TestMedia): { metadata: FlvTag; video: FlvTag; audio: FlvTag } {
  return {
    metadata: onMetaData({ width: 320, height: 240, framerate: 25, videocodecid: 7, audiocodecid: 10, audiosamplerate: 48000, audiochannels: 1, stereo: false, encoder: 'gateway-test' }),
    video: avcSequenceHeader(m.sps, m.pps),
    audio: aacSequenceHeader(m.asc),
  };
}

/** Writes the tags paced in real time (as a live call would). */
async function publishPaced(p: RtmpPublisher, tags: readonly FlvTag[], signal: { stop: boolean }): Promise<void> {
  const t0 = Date.now();
  for (const tag of tags) {
    if (signal.stop) return;
    const wait = tag.timestamp - (Date.now() - t0);
    if (wait > 0) await sleep(wait);
    p.write(tag);
  }
}

function waitFor(p: RtmpPublisher, status: PublisherStatus, ms = 5000): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    if (p.status === status) {
      resolve(undefined);
      return;
    }
    const t = setTimeout(() => reject(new Error(`no ${status} within ${ms} ms (status ${p.status})`)), ms);
    p.on('status', (s, reason) => {
      if (s === status) {
        clearTimeout(t);
        resolve(reason);
      }
    });
  });
}

async function waitPhase(p: RtmpPublisher, phase: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (p.phase !== phase) {
    if (Date.now() > end) throw new Error(`publisher stuck in ${p.phase}`);
    await sleep(10);
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

describe('embedded server + RtmpPublisher', () => {
  let media: TestMedia;
  let server: EmbeddedServer | undefined;

  beforeAll(async () => {
    [RTMP_PORT, HTTP_PORT] = [await freeTcpPort(), await freeTcpPort()];
    for (let i = 0; i < 5; i++) spare.push(await freeTcpPort());
    media = await makeTestMedia(3);
    expect(media.video.length).toBe(75);
    expect(media.video[0]?.key).toBe(true);
  });

  afterAll(async () => {
    await server?.close();
  });

  it('rejects (and does not exit) when a port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(RTMP_PORT, '127.0.0.1', () => r()));
    try {
      await expect(startEmbeddedServer({ host: '127.0.0.1', rtmpPort: RTMP_PORT, httpPort: HTTP_PORT, app: 'live', log }))
        .rejects.toThrow(/RTMP/);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
    expect(await canListen(HTTP_PORT)).toBe(true);
  });

  it('runs in a process of its own (node-media-server itself runs once per process)', async () => {
    server = await startEmbeddedServer({ host: '127.0.0.1', rtmpPort: RTMP_PORT, httpPort: HTTP_PORT, app: 'live', log });
    expect(server.rtmpUrl).toBe(`rtmp://127.0.0.1:${RTMP_PORT}/live`);
    expect(server.pid).toBeGreaterThan(0);
    expect(server.pid).not.toBe(process.pid);
    const inProcess = await runNodeMediaServer({ host: '127.0.0.1', rtmpPort: spare[0]!, httpPort: spare[1]!, auth: { secret: 'x'.repeat(16), publish: false, play: false }, log: nmsLog });
    try {
      await expect(runNodeMediaServer({ host: '127.0.0.1', rtmpPort: spare[2]!, httpPort: spare[3]!, auth: { secret: 'x'.repeat(16), publish: false, play: false }, log: nmsLog }))
        .rejects.toThrow(InvalidStateError);
    } finally {
      await inProcess.close();
    }
  });

  it('publishes H.264 + AAC that ffprobe decodes over RTMP and that HTTP-FLV serves', async () => {
    const srv = server as EmbeddedServer;
    const p = new RtmpPublisher({ url: srv.rtmpUrl, streamName: 'pubtest', log });
    const statuses: PublisherStatus[] = [];
    p.on('status', (s) => statuses.push(s));
    p.setHeaders(headersOf(media));
    p.start();
    await waitPhase(p, 'publishing');
    expect(p.status).toBe('waiting');
    const tags = tagsOf(media);
    const signal = { stop: false };
    // Loop the clip with continuing timestamps so the stream outlives even a slow ffprobe start
    // (24 s; publishing stops as soon as ffprobe is done).
    const looped: FlvTag[] = [];
    for (let k = 0; k < 8; k++) for (const t of tags) looped.push({ ...t, timestamp: t.timestamp + k * 3000 });
    const pub = publishPaced(p, looped, signal);
    await waitFor(p, 'active');

    // HTTP-FLV: read the first tags through our demuxer.
    const flvTags = await new Promise<FlvTag[]>((resolve, reject) => {
      const demux = new FlvDemuxer();
      const got: FlvTag[] = [];
      const req = http.get(`${srv.httpFlvUrl}/pubtest.flv`, (res) => {
        res.on('data', (d: Buffer) => {
          got.push(...demux.push(d));
          if (got.filter((t) => t.type === 'video').length >= 10) {
            req.destroy();
            resolve(got);
          }
        });
      });
      req.on('error', reject);
      setTimeout(() => reject(new Error('HTTP-FLV timeout')), 8000).unref();
    });
    expect(flvTags.some((t) => t.type === 'script')).toBe(true);
    const firstVideo = flvTags.find((t) => t.type === 'video');
    expect(firstVideo?.data[1]).toBe(0); // AVC sequence header first
    expect(flvTags.some((t) => t.type === 'audio' && t.data[1] === 1)).toBe(true);

    const out = await runBuffer('ffprobe', [
      '-v', 'error', '-read_intervals', '%+2', '-show_entries', 'frame=media_type,key_frame',
      '-show_entries', 'stream=codec_name,codec_type,width,height,sample_rate,channels', '-of', 'json',
      `${srv.rtmpUrl}/pubtest`,
    ], 20_000);
    signal.stop = true;
    await pub;
    const probe = JSON.parse(out.toString()) as {
      frames: { media_type: string; key_frame: number }[];
      streams: { codec_name: string; codec_type: string; width?: number; sample_rate?: string; channels?: number }[];
    };
    const v = probe.streams.find((s) => s.codec_type === 'video');
    const a = probe.streams.find((s) => s.codec_type === 'audio');
    expect(v).toMatchObject({ codec_name: 'h264', width: 320 });
    expect(a).toMatchObject({ codec_name: 'aac', sample_rate: '48000', channels: 1 });
    const vf = probe.frames.filter((f) => f.media_type === 'video');
    const af = probe.frames.filter((f) => f.media_type === 'audio');
    expect(vf.length).toBeGreaterThan(25);
    expect(vf[0]?.key_frame).toBe(1);
    expect(af.length).toBeGreaterThan(40);

    await p.close();
    expect(p.phase).toBe('closed');
    expect(statuses).toEqual(['active']);
  });

  it('reports failed when nothing listens', async () => {
    const p = new RtmpPublisher({ url: `rtmp://127.0.0.1:${spare[4]!}/live`, streamName: 'x', log });
    p.start();
    const reason = await waitFor(p, 'failed');
    expect(reason).toMatch(/ECONNREFUSED/);
    await p.close();
  });

  it('reports failed when the server refuses the app', async () => {
    const p = new RtmpPublisher({ url: `rtmp://127.0.0.1:${RTMP_PORT}/bad.app`, streamName: 'x', log });
    p.start();
    await waitFor(p, 'failed');
    await p.close();
  });

  it('reports failed for a second publisher of the same stream', async () => {
    const srv = server as EmbeddedServer;
    const first = new RtmpPublisher({ url: srv.rtmpUrl, streamName: 'dup', log });
    first.setHeaders(headersOf(media));
    first.start();
    await waitPhase(first, 'publishing');
    for (const t of tagsOf(media).slice(0, 5)) first.write(t);
    const second = new RtmpPublisher({ url: srv.rtmpUrl, streamName: 'dup', log });
    second.start();
    expect(await waitFor(second, 'failed')).toMatch(/refused/);
    expect(first.status).toBe('active');
    await Promise.all([first.close(), second.close()]);
  });

  it('reports lost when the server goes away, and close() frees both ports', async () => {
    const srv = server as EmbeddedServer;
    const p = new RtmpPublisher({ url: srv.rtmpUrl, streamName: 'losttest', log });
    p.setHeaders(headersOf(media));
    p.start();
    await waitPhase(p, 'publishing');
    for (const t of tagsOf(media).slice(0, 20)) p.write(t);
    await waitFor(p, 'active');
    // A viewer connected over HTTP-FLV must not hold the port open.
    const viewer = http.get(`${srv.httpFlvUrl}/losttest.flv`, (res) => res.resume());
    viewer.on('error', () => undefined);
    // A close within 1 s of the publish being accepted counts as a refusal (FAILED): wait past it.
    await sleep(1100);
    const lost = waitFor(p, 'lost');
    await srv.close();
    server = undefined;
    expect(await lost).toBeTruthy();
    expect(await canListen(RTMP_PORT)).toBe(true);
    expect(await canListen(HTTP_PORT)).toBe(true);
    await p.close();
  });
});
