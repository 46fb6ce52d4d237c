/**
 * A call's `record: true`: once media starts, its output (the tags every RTMP
 * target gets) goes to an FLV file under `recording.dir` as well (recorder.ts).
 * The recording never decides the call's fate: a file that cannot be opened,
 * a full disk or a failed write ends the recording only, reported in the Call
 * object (`recordingStopped`) by one change event with the status unchanged.
 */
import type { Logger } from '../shared/index.js';
import type { CallOutputs } from './call-outputs.js';
import { CallRecorder, recordingName, type RecordingStopReason } from './recorder.js';

/** `recording.*` of the configuration. */
export interface RecordingSettings {
  dir: string;
  minFreeBytes: number;
  maxFileBytes: number;
}

export class CallRecording {
  #recorder: CallRecorder | undefined;
  #opening: Promise<void> | undefined;
  #closed = false;
  /** The file, once opened (absolute). */
  path: string | null = null;
  /** Why the recording ended before the call, if it did. */
  stopped: RecordingStopReason | null = null;

  constructor(
    private readonly call: { callId: string; toStream: string; log: Logger },
    private readonly settings: RecordingSettings,
    /** The Call object changed: the recording stopped early. */
    private readonly changed: () => void,
  ) {}

  /** Opens the file and feeds it from `outputs` (the cached GOP first); once per call. */
  start(outputs: CallOutputs, tracks: { hasAudio: boolean; hasVideo: boolean }): void {
    if (this.#opening || this.#closed) return;
    const { callId, toStream, log } = this.call;
    this.#opening = CallRecorder.open({
      ...this.settings, ...tracks, name: recordingName(toStream, callId, new Date()), log,
    }).then((r) => {
      if (this.#closed) return r.close();
      this.#recorder = r;
      this.path = r.path;
      // The free-space check at open may have stopped it already.
      if (r.status === 'STOPPED') {
        this.#stop(r.stopReason ?? 'DISK_FULL');
        return undefined;
      }
      r.on('stopped', (reason) => this.#stop(reason));
      outputs.addSink(r);
      log.info({ path: r.path }, 'recording');
      return undefined;
    }, (e: unknown) => {
      log.warn({ err: (e as Error).message }, 'cannot open the recording file: the call goes on without it');
      this.#stop('WRITE_ERROR');
    });
  }

  /** Ends the recording cleanly (after the output's last tags); idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#opening;
    await this.#recorder?.close();
  }

  #stop(reason: RecordingStopReason): void {
    if (this.#closed || this.stopped !== null) return;
    this.stopped = reason;
    this.call.log.warn({ reason }, 'recording stopped; the call goes on');
    this.changed();
  }
}
