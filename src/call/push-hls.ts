import type { Logger } from '../shared/index.js';
import type { HlsStore, HlsStream } from '../pipeline/index.js';
import type { CallService } from './service.js';

/**
 * HLS per call (SPEC §6): every call gets an HLS stream named after its
 * toStream, fed from the call's fan-out like any RTMP target (the same FLV
 * tags: no extra transcoder), and removed when the call ends.
 */
export class HlsService {
  readonly #streams = new Map<string, HlsStream>();

  constructor(calls: CallService, private readonly store: HlsStore, log: Logger) {
    calls.on('change', (obj, final) => {
      if (final) {
        const s = this.#streams.get(obj.callId);
        if (s === undefined) return;
        this.#streams.delete(obj.callId);
        this.store.remove(s);
        log.debug({ callId: obj.callId, stream: s.name }, 'HLS stream removed');
        return;
      }
      if (this.#streams.has(obj.callId)) return;
      const call = calls.registry.findByStream(obj.toStream);
      if (call === undefined || call.callId !== obj.callId || call.outputs.closed) return;
      const s = this.store.create(call.toStream, call.log);
      this.#streams.set(obj.callId, s);
      call.outputs.addSink(s);
    });
  }

  /** Drops every stream (shutdown). */
  close(): void {
    for (const s of this.#streams.values()) this.store.remove(s);
    this.#streams.clear();
  }
}
