import { randomUUID } from 'node:crypto';
import { TypedEmitter, ConflictError, NotFoundError, ParseError, ValidationError, type Logger } from '../shared/index.js';
import { splitStreamUrl } from '../rtmp/index.js';
import type { OutputTarget } from './call-outputs.js';
import type { CallService } from './service.js';
import type { CallObject, RtmpStreamStatus } from './types.js';

/** A restream of a call to an extra RTMP target (SPEC §2.8), as answered and posted in PushStatusEvent. */
export interface PushObject {
  mediaSessionId: string;
  /** The call's toStream. */
  streamName: string;
  rtmpUrl: string;
  status: RtmpStreamStatus;
  callId: string;
  /** Why the push ended (`terminated`, `call ended`), null while it runs. */
  info: string | null;
  createdAt: number;
}

export type PushFilter = Partial<Record<'mediaSessionId' | 'streamName' | 'rtmpUrl', string>>;

export interface PushServiceEvents {
  /** A push's status changed, or it ended (`final`). `appKey`: the call's application. */
  change: [push: PushObject, appKey: string, final: boolean];
}

interface Push {
  obj: PushObject;
  appKey: string;
  target: OutputTarget;
}

/**
 * `/push/*`: extra RTMP targets of a running call. Each push is one more
 * publisher on the call's fan-out: the same FLV tags, no extra transcoder.
 * A push ends with its call.
 */
export class PushService extends TypedEmitter<PushServiceEvents> {
  readonly #pushes = new Map<string, Push>();

  /** `maxPerCall`: pushes one call may have at once (each is an RTMP connection; a cap keeps one client from exhausting sockets). */
  constructor(private readonly calls: CallService, private readonly log: Logger, private readonly maxPerCall = 10) {
    super((event, error) => log.error({ event, err: error }, 'push listener failed'));
    calls.on('change', (call, final) => {
      if (final) this.#endCall(call);
    });
  }

  /** Starts pushing the call whose toStream is `streamName` to `rtmpUrl` (`rtmp[s]://host/app/key`). */
  startup(streamName: string, rtmpUrl: string): PushObject {
    let split: { url: string; streamName: string };
    try {
      split = splitStreamUrl(rtmpUrl);
    } catch (e) {
      if (e instanceof ParseError) throw new ValidationError(`rtmpUrl: ${e.message}`);
      throw e;
    }
    const call = this.calls.registry.findByStream(streamName);
    if (!call) throw new NotFoundError(`no call with stream ${streamName}`);
    let ofCall = 0;
    for (const p of this.#pushes.values()) {
      if (p.obj.streamName === streamName && p.obj.rtmpUrl === rtmpUrl) {
        throw new ConflictError(`stream ${streamName} is already pushed to that URL (${p.obj.mediaSessionId})`);
      }
      if (p.obj.callId === call.callId) ofCall++;
    }
    if (ofCall >= this.maxPerCall) {
      throw new ConflictError(`stream ${streamName} already has ${ofCall} pushes, the most a call may have (rest.maxPushesPerCall)`);
    }
    const id = randomUUID();
    const log = call.log.child({ mediaSessionId: id });
    const target = call.inScope(() => call.outputs.addTarget(split.url, split.streamName, log));
    const obj: PushObject = {
      mediaSessionId: id, streamName, rtmpUrl, status: target.status, callId: call.callId, info: null, createdAt: Date.now(),
    };
    const push: Push = { obj, appKey: call.params.appKey, target };
    this.#pushes.set(id, push);
    target.on('status', (s) => {
      if (!this.#pushes.has(id)) return;
      obj.status = s;
      this.emit('change', { ...obj }, push.appKey, false);
    });
    log.info({ endpoint: split.url }, 'push started');
    this.emit('change', { ...obj }, push.appKey, false);
    return { ...obj };
  }

  find(filter: PushFilter): PushObject[] {
    return [...this.#pushes.values()].map((p) => p.obj)
      .filter((o) => (filter.mediaSessionId === undefined || o.mediaSessionId === filter.mediaSessionId)
        && (filter.streamName === undefined || o.streamName === filter.streamName)
        && (filter.rtmpUrl === undefined || o.rtmpUrl === filter.rtmpUrl))
      .map((o) => ({ ...o }));
  }

  findAll(): PushObject[] {
    return [...this.#pushes.values()].map((p) => ({ ...p.obj }));
  }

  /** Stops one push; resolves once its connection is closed. Throws NotFoundError. */
  terminate(mediaSessionId: string): Promise<void> {
    const p = this.#pushes.get(mediaSessionId);
    if (!p) throw new NotFoundError(`no push ${mediaSessionId}`);
    return this.#end(p, 'terminated');
  }

  /** Stops every push (shutdown). */
  async close(): Promise<void> {
    await Promise.all([...this.#pushes.values()].map((p) => this.#end(p, 'gateway stopping')));
  }

  #endCall(call: CallObject): void {
    for (const p of [...this.#pushes.values()]) {
      // The call's outputs own its targets and close them as the call ends: only report here.
      if (p.obj.callId === call.callId) void this.#end(p, 'call ended', false);
    }
  }

  async #end(p: Push, info: string, closeTarget = true): Promise<void> {
    if (!this.#pushes.delete(p.obj.mediaSessionId)) return;
    p.obj.info = info;
    this.log.info({ mediaSessionId: p.obj.mediaSessionId, callId: p.obj.callId, info }, 'push ended');
    this.emit('change', { ...p.obj }, p.appKey, true);
    if (closeTarget) await p.target.close().catch(() => undefined);
  }
}
