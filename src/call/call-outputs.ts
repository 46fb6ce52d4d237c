import type { Logger } from '../shared/logger.js';
import { TypedEmitter } from '../shared/emitter.js';
import { RtmpPublisher } from '../rtmp/index.js';
import type { MediaOutput } from './media-output.js';
import type { RtmpStreamStatus } from './types.js';

export interface CallOutputsOptions {
  /** The request's target, or null. */
  primary: { url: string; streamName: string } | null;
  /** The embedded server's publish URL and the call's toStream, or null when disabled. */
  embedded: { url: string; streamName: string } | null;
  connectTimeoutMs: number;
  log: Logger;
}

export interface CallOutputsEvents {
  /** The call's rtmpStreamStatus: the request's target, or the embedded one when the request has none. */
  status: [status: RtmpStreamStatus, reason: string | undefined];
  /** A target (new, or reconnected) needs a keyframe to start on. */
  keyframeNeeded: [reason: string];
  /** The call's target failed for good and configuration says the call ends (FAILED_BY_RTMP_WRITER_ERROR). */
  fatal: [reason: string];
}

/**
 * A call's RTMP targets: the request's `rtmpUrl`, the embedded server. Every
 * target shares the same FLV tags from the call's MediaOutput.
 */
export class CallOutputs extends TypedEmitter<CallOutputsEvents> {
  readonly #publishers: RtmpPublisher[] = [];
  #closed = false;

  constructor(private readonly opts: CallOutputsOptions) {
    super((event, error) => opts.log.error({ event, err: error }, 'call outputs listener failed'));
  }

  /** The status a call starts with once publishing begins, or null when it has no target. */
  get initialStatus(): RtmpStreamStatus | null {
    return this.opts.primary || this.opts.embedded ? 'RTMP_STREAM_WAIT' : null;
  }

  /** Connects every target and feeds it from `output`. */
  start(output: MediaOutput): void {
    const targets = [
      ...(this.opts.primary ? [{ ...this.opts.primary, role: 'primary' as const }] : []),
      ...(this.opts.embedded ? [{ ...this.opts.embedded, role: 'embedded' as const }] : []),
    ];
    for (const t of targets) {
      const reportsStatus = t.role === 'primary' || !this.opts.primary;
      const p = new RtmpPublisher({
        url: t.url, streamName: t.streamName, log: this.opts.log.child({ rtmp: t.role }), connectTimeoutMs: this.opts.connectTimeoutMs,
      });
      p.on('status', (s, reason) => {
        this.opts.log.info({ url: t.url, status: s, reason }, 'RTMP status');
        if (reportsStatus) this.emit('status', s, reason);
      });
      this.#publishers.push(p);
      output.addTarget(p);
      p.start();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#publishers.map((p) => p.close().catch(() => undefined)));
  }
}
