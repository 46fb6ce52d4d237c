/**
 * The embedded node-media-server with signed URLs: a publisher without the
 * signature is refused (FAILED, refused), the gateway's signed one publishes,
 * and its metadata reaches HTTP-FLV viewers as a plain onMetaData.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startEmbeddedServer, type EmbeddedServer } from '../../../src/rtmp/embedded.js';
import { RtmpPublisher } from '../../../src/rtmp/publisher.js';
import { FlvFanout } from '../../../src/pipeline/fanout.js';
import { avcSequenceHeader, avcFrame, aacSequenceHeader, aacFrame, onMetaData, type FlvTag } from '../../../src/pipeline/flv.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { freeTcpPort } from '../../helpers/ports.js';
import { probeMetadata } from '../../helpers/rtmp-metadata.js';
import { makeTestMedia, type TestMedia } from '../../helpers/test-media.js';

const log = silentLogger();
const SECRET = 'unit-secret-0123456789abcdef';
let server: EmbeddedServer;
let media: TestMedia;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  media = await makeTestMedia(3);
  server = await startEmbeddedServer({
    host: '127.0.0.1', rtmpPort: await freeTcpPort(), httpPort: await freeTcpPort(), app: 'live', log,
    auth: { secret: SECRET, publish: true, play: false },
  });
}, 60_000);

afterAll(async () => {
  await server?.close();
});

/**
 * node-media-server answers NetStream.Publish.Start and only then checks the
 * signature (closing at once): an attempt succeeded when no failure follows
 * the accept within the publisher's 1 s refusal window.
 */
function attempt(p: RtmpPublisher): Promise<{ ok: boolean; refused: boolean; reason: string }> {
  return new Promise((resolve) => {
    p.once('publishing', () => setTimeout(() => resolve({ ok: true, refused: false, reason: '' }), 1200));
    p.once('attemptFailed', (reason, refused) => resolve({ ok: false, refused, reason }));
    p.start();
  });
}

describe('embedded server publish protection', () => {
  it('refuses an unsigned publish, accepts the signed one (fresh per attempt), and plays plain onMetaData over HTTP-FLV', async () => {
    const intruder = new RtmpPublisher({ url: server.rtmpUrl, streamName: 'auth_s1', log, connectTimeoutMs: 3000 });
    const r1 = await attempt(intruder);
    expect(r1).toMatchObject({ ok: false, refused: true });
    await intruder.close();

    let asked = 0;
    const p = new RtmpPublisher({
      url: server.rtmpUrl, streamName: 'auth_s1', log, connectTimeoutMs: 3000, stripSetDataFrame: true,
      streamQuery: () => {
        asked++;
        return server.publishQuery('auth_s1');
      },
    });
    expect(server.publishQuery('auth_s1')).toMatch(/^sign=\d+-[0-9a-f]{32}$/);
    const fan = new FlvFanout();
    fan.add(p);
    fan.setHeaders({
      metadata: onMetaData({ width: 320, height: 240, videocodecid: 7, audiocodecid: 10, audiosamplerate: 48000 }),
      video: avcSequenceHeader(media.sps, media.pps),
      audio: aacSequenceHeader(media.asc),
    });
    expect((await attempt(p)).ok).toBe(true);
    expect(asked).toBe(1);
    const tags: FlvTag[] = [];
    media.video.forEach((au, i) => tags.push(avcFrame(au.nalus, au.key, 0, i * 40)));
    media.audio.forEach((raw, i) => tags.push(aacFrame(raw, Math.round((i * 1024) / 48))));
    tags.sort((a, b) => a.timestamp - b.timestamp);
    const metaP = probeMetadata(`${server.httpFlvUrl}/auth_s1.flv`);
    const t0 = Date.now();
    for (const t of tags.slice(0, 60)) {
      const wait = t.timestamp - (Date.now() - t0);
      if (wait > 0) await sleep(wait);
      fan.write(t);
    }
    const meta = await metaP;
    expect(meta).toMatchObject({ width: 320, height: 240, videocodecid: 7, audiosamplerate: 48000 });
    expect(p.status).toBe('active');
    expect(server.verifyPlay('auth_s1', undefined)).toBe(true); // play not protected here
    fan.clear();
    await p.close();
  }, 30_000);
});
