/**
 * CallOutputs, the single owner of a call's RTMP targets, with a fake media
 * output and scripted RTMP servers on 127.0.0.1: which target reports the
 * call's status, that every target gets the call's tags, when a failure is
 * fatal, and that close() releases every connection once.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { CallOutputs, type CallOutputsOptions } from '../../../src/call/call-outputs.js';
import type { MediaOutput } from '../../../src/call/media-output.js';
import type { RtmpStreamStatus } from '../../../src/call/types.js';
import { aacFrame, aacSequenceHeader, type FlvSink } from '../../../src/pipeline/index.js';
import { MSG } from '../../../src/rtmp/chunk.js';
import { parseCommand } from '../../../src/rtmp/messages.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { FakeRtmpServer, refusing } from '../../helpers/fake-rtmp-server.js';

const log = silentLogger();
const servers: FakeRtmpServer[] = [];
const outputs: CallOutputs[] = [];

afterEach(async () => {
  for (const o of outputs.splice(0)) await o.close();
  for (const s of servers.splice(0)) await s.stop();
});

async function server(script?: ConstructorParameters<typeof FakeRtmpServer>[0]): Promise<string> {
  const s = new FakeRtmpServer(script);
  servers.push(s);
  return `rtmp://127.0.0.1:${await s.listen()}/live`;
}

/** Stands in for MediaOutput: the test writes tags into whatever sink CallOutputs registers. */
class FakeMediaOutput {
  readonly sinks = new Set<FlvSink>();
  #ts = 0;
  addTarget(s: FlvSink): void {
    this.sinks.add(s);
    s.setHeaders({ audio: aacSequenceHeader(Buffer.of(0x11, 0x90)) });
  }
  removeTarget(s: FlvSink): void {
    this.sinks.delete(s);
  }
  /** One AAC frame (a target turns ACTIVE on its first media tag). */
  feed(): void {
    this.#ts += 21;
    for (const s of this.sinks) s.write(aacFrame(Buffer.alloc(40, 1), this.#ts));
  }
}

function make(opts: Partial<CallOutputsOptions>): { out: CallOutputs; statuses: RtmpStreamStatus[]; fatal: string[] } {
  const out = new CallOutputs({
    primary: null, embedded: null, connectTimeoutMs: 2000, log,
    reconnect: { initialDelayMs: 50, maxDelayMs: 100, giveUpAfterMs: 1000, failCall: true }, ...opts,
  });
  outputs.push(out);
  const statuses: RtmpStreamStatus[] = [];
  const fatal: string[] = [];
  out.on('status', (s) => statuses.push(s));
  out.on('fatal', (r) => fatal.push(r));
  return { out, statuses, fatal };
}

/** Feeds a frame every 20 ms (bounded: 5 s) until `n` targets are ACTIVE. */
async function untilActive(out: CallOutputs, media: FakeMediaOutput, n: number): Promise<void> {
  await expect.poll(() => {
    media.feed();
    return out.stats().filter((s) => s.status === 'RTMP_STREAM_ACTIVE').length;
  }, { interval: 20, timeout: 5000 }).toBe(n);
}

const publishNames = (s: FakeRtmpServer): unknown[] => s.conns.flatMap((c) => c.messages)
  .filter((m) => m.type === MSG.commandAmf0)
  .map((m) => parseCommand(m.payload))
  .filter((c) => c.name === 'publish')
  .map((c) => c.args[0]);

describe('CallOutputs (fake media output, scripted RTMP servers)', () => {
  it('request target, embedded server and a push all get the tags; only the request target reports; close releases all', async () => {
    const [primary, embedded, push] = [await server(), await server(), await server()];
    const { out, statuses } = make({
      primary: { url: primary, streamName: 'key1' },
      embedded: { url: embedded, streamName: 'call1' },
      embeddedQuery: (name) => `sign=${name}-signed`,
    });
    expect(out.initialStatus).toBe('RTMP_STREAM_WAIT');
    const pushed = out.addTarget(push, 'pushkey', log);
    expect(out.targetCount).toBe(1);
    const media = new FakeMediaOutput();
    out.start(media as unknown as MediaOutput);
    expect(out.targetCount).toBe(3);
    await untilActive(out, media, 3);
    expect(pushed.status).toBe('RTMP_STREAM_ACTIVE');
    await expect.poll(() => servers.every((s) => s.media(0).length > 1)).toBe(true);
    for (const s of servers) {
      // Each connection starts with the call's sequence header, then its frames.
      expect(s.media(0)[0]!.payload).toEqual(Buffer.of(0xaf, 0x00, 0x11, 0x90));
      expect(s.media(0).length).toBeGreaterThan(1);
    }
    expect(statuses).toEqual(['RTMP_STREAM_ACTIVE']);
    expect(publishNames(servers[0]!)).toEqual(['key1']);
    expect(publishNames(servers[1]!)).toEqual(['call1?sign=call1-signed']);
    expect(publishNames(servers[2]!)).toEqual(['pushkey']);

    await pushed.close();
    expect(out.targetCount).toBe(2);
    await out.close();
    await out.close();
    expect(media.sinks.size).toBe(0);
    expect(out.stats()).toEqual([]);
    await expect.poll(() => servers.map((s) => s.conns[0]!.socket.destroyed || s.conns[0]!.socket.readableEnded)).toEqual([true, true, true]);
    expect(() => out.addTarget(push, 'late', log)).toThrow(/closed/);
  });

  it('without a request target the embedded one reports the status; with neither there is none', async () => {
    const { out, statuses } = make({ embedded: { url: await server(), streamName: 'call1' } });
    const media = new FakeMediaOutput();
    out.start(media as unknown as MediaOutput);
    await untilActive(out, media, 1);
    expect(statuses).toEqual(['RTMP_STREAM_ACTIVE']);
    expect(make({}).out.initialStatus).toBeNull();
  });

  it('a request target refused for good is fatal for the call, unless configuration says otherwise', async () => {
    const url = await server(refusing);
    const a = make({ primary: { url, streamName: 'bad' } });
    a.out.start(new FakeMediaOutput() as unknown as MediaOutput);
    await expect.poll(() => a.fatal.length).toBe(1);
    expect(a.statuses.at(-1)).toBe('RTMP_CONNECTION_FAILED');

    const b = make({ primary: { url, streamName: 'bad' }, reconnect: { initialDelayMs: 50, maxDelayMs: 100, giveUpAfterMs: 1000, failCall: false } });
    b.out.start(new FakeMediaOutput() as unknown as MediaOutput);
    await expect.poll(() => b.statuses.at(-1)).toBe('RTMP_CONNECTION_FAILED');
    expect(b.fatal).toEqual([]);
  });

  it('a push that fails does not touch the call: no status, nothing fatal', async () => {
    const { out, statuses, fatal } = make({ primary: { url: await server(), streamName: 'key1' } });
    const p = out.addTarget(await server(refusing), 'refused', log);
    const media = new FakeMediaOutput();
    out.start(media as unknown as MediaOutput);
    await untilActive(out, media, 1);
    await expect.poll(() => p.status).toBe('RTMP_CONNECTION_FAILED');
    expect(statuses).toEqual(['RTMP_STREAM_ACTIVE']);
    expect(fatal).toEqual([]);
  });
});
