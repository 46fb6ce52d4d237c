/**
 * Scheduled captures (SPEC §2.9): a capture dials its far end `capture.leadMs`
 * before `startAt` as an ordinary call (its own callId, `parentCallId` = the
 * captureId), is LIVE while that call is ESTABLISHED, dials again on the retry
 * policy when an attempt fails (busy, no answer, the meeting not open yet) or
 * a live call drops, and hangs up at `endAt`. Every change is kept in the
 * store first, so a restarted gateway picks its schedules up where they were
 * (a capture caught mid-call by the restart dials again at once).
 */
import { randomBytes } from 'node:crypto';
import {
  ConflictError, NotFoundError, Scope, TypedEmitter, ValidationError, type Logger,
} from '../shared/index.js';
import { isTerminal, type CallObject, type CallService } from '../call/index.js';
import {
  TERMINAL_CAPTURE_STATUSES, type CaptureObject, type CaptureRecord, type CaptureStatus, type CaptureStore, type ScheduleParams,
} from './types.js';

export interface CaptureServiceOptions {
  calls: CallService;
  store: CaptureStore;
  /** Dial this long before startAt (a conference may take a while to answer). */
  leadMs: number;
  /** Longest capture, seconds. */
  maxDurationS: number;
  nodeId: string;
  log: Logger;
  /** Ended captures stay findable this long, then leave the store. Default 7 days. */
  keepEndedMs?: number;
}

/** After a LIVE call drops, the next dial comes this soon (a failed attempt waits retry.intervalMs). */
const REDIAL_AFTER_DROP_MS = 1000;
/** Longest a timer is set for at once (Node's limit is ~24.8 days); longer waits are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function newCaptureId(): string {
  return `cap_${randomBytes(9).toString('base64url')}`;
}

export class CaptureService extends TypedEmitter<{ change: [capture: CaptureObject, final: boolean] }> {
  readonly #records = new Map<string, CaptureRecord>();
  /** Each capture's pending timers (dial, retry, end). */
  readonly #timers = new Map<string, Set<NodeJS.Timeout>>();
  /** callId of a live attempt → its capture. */
  readonly #byCall = new Map<string, string>();
  readonly #scope = new Scope((e) => this.opts.log.warn({ err: e }, 'capture release failed'));

  constructor(private readonly opts: CaptureServiceOptions) {
    super((event, err) => opts.log.error({ event, err }, 'capture listener failed'));
    const onCall = (call: CallObject, final: boolean): void => this.#onCall(call, final);
    opts.calls.on('change', onCall);
    this.#scope.defer(() => {
      opts.calls.off('change', onCall);
    });
    this.#scope.defer(() => opts.store.close());
    const keep = opts.keepEndedMs ?? 7 * 86_400_000;
    for (const r of opts.store.load()) {
      if (TERMINAL_CAPTURE_STATUSES.has(r.status) && r.updatedAt < Date.now() - keep) {
        opts.store.remove(r.captureId);
        continue;
      }
      this.#records.set(r.captureId, r);
      // Caught mid-call by a restart: that call is gone; dial again (or end) now.
      if (r.status === 'DIALLING' || r.status === 'LIVE') this.#set(r, 'RETRYING', 'the gateway restarted during the capture');
      this.#arm(r);
    }
    this.#scope.setInterval(() => this.#purge(keep), 3_600_000);
  }

  /** `/capture/schedule`: validated, checked for overlaps, stored, armed. */
  schedule(p: ScheduleParams): CaptureObject {
    this.#validate(p);
    if (this.#records.has(p.captureId)) throw new ConflictError(`capture ${p.captureId} exists`);
    this.#checkOverlap(p);
    const now = Date.now();
    const r: CaptureRecord = { ...p, status: 'SCHEDULED', attempt: 0, callId: null, info: null, createdAt: now, updatedAt: now };
    this.#records.set(r.captureId, r);
    this.opts.store.save(r);
    this.opts.log.info({ captureId: r.captureId, startAt: new Date(r.startAt).toISOString(), endAt: new Date(r.endAt).toISOString() }, 'capture scheduled');
    this.emit('change', this.toObject(r), false);
    this.#arm(r);
    return this.toObject(r);
  }

  find(captureId: string): CaptureObject {
    return this.toObject(this.#get(captureId));
  }

  findAll(): CaptureObject[] {
    return [...this.#records.values()].map((r) => this.toObject(r));
  }

  /** `/capture/cancel`: a live attempt is hung up. */
  cancel(captureId: string): CaptureObject {
    const r = this.#get(captureId);
    if (TERMINAL_CAPTURE_STATUSES.has(r.status)) throw new ConflictError(`capture ${captureId} is ${r.status}`);
    this.#finish(r, 'CANCELLED', 'cancelled');
    return this.toObject(r);
  }

  /**
   * `/capture/update`: before its start every field may change; once it has
   * started (dialling or later) only `endAt`.
   */
  update(captureId: string, change: (r: ScheduleParams) => ScheduleParams, onlyEndAt: boolean): CaptureObject {
    const r = this.#get(captureId);
    if (TERMINAL_CAPTURE_STATUSES.has(r.status)) throw new ConflictError(`capture ${captureId} is ${r.status}`);
    if (r.status !== 'SCHEDULED' && !onlyEndAt) throw new ConflictError(`capture ${captureId} has started: only endAt may change`);
    const next = change(r);
    this.#validate(next, r.status !== 'SCHEDULED');
    this.#checkOverlap(next, captureId);
    Object.assign(r, next, { captureId });
    this.#save(r);
    this.opts.log.info({ captureId }, 'capture updated');
    this.#arm(r);
    return this.toObject(r);
  }

  toObject(r: CaptureRecord): CaptureObject {
    const { sipPassword: _secret, callId: _perAttempt, ...call } = r.call;
    return {
      ...call, captureId: r.captureId, kind: 'scheduled', status: r.status,
      startAt: new Date(r.startAt).toISOString(), endAt: new Date(r.endAt).toISOString(),
      attempt: r.attempt, callId: r.callId, retry: r.retry, info: r.info, nodeId: this.opts.nodeId, createdAt: r.createdAt,
    };
  }

  /** Stops the timers (schedules stay in the store for the next start); live attempts end with the call service. */
  async close(): Promise<void> {
    for (const id of [...this.#timers.keys()]) this.#clearTimers(id);
    await this.#scope.close();
  }

  #get(captureId: string): CaptureRecord {
    const r = this.#records.get(captureId);
    if (!r) throw new NotFoundError(`no capture ${captureId}`);
    return r;
  }

  #validate(p: ScheduleParams, started = false): void {
    if (!(p.endAt > p.startAt)) throw new ValidationError('endAt: must be after startAt');
    if (p.endAt <= Date.now()) throw new ValidationError('endAt: is in the past');
    if (p.endAt - p.startAt > this.opts.maxDurationS * 1000) {
      throw new ValidationError(`endAt: the capture would last more than capture.maxDurationS (${this.opts.maxDurationS} s)`);
    }
    if (!started && p.retry.intervalMs < 1000) throw new ValidationError('retry.intervalMs: at least 1000');
  }

  /** SPEC §2.9: one capture at a time per RTMP target (and per embedded stream name). */
  #checkOverlap(p: ScheduleParams, self?: string): void {
    for (const o of this.#records.values()) {
      if (o.captureId === self || TERMINAL_CAPTURE_STATUSES.has(o.status)) continue;
      if (!(p.startAt < o.endAt && o.startAt < p.endAt)) continue;
      const sameTarget = p.call.rtmpUrl !== undefined && p.call.rtmpUrl === o.call.rtmpUrl
        && (p.call.rtmpStream ?? p.call.toStream) === (o.call.rtmpStream ?? o.call.toStream);
      if (sameTarget) throw new ConflictError(`capture ${o.captureId} overlaps on the same rtmpUrl + rtmpStream`);
      if (p.call.toStream === o.call.toStream) throw new ConflictError(`capture ${o.captureId} overlaps on the same toStream`);
    }
  }

  /** (Re)sets a capture's timers from its record: dial at startAt − leadMs (or now), end at endAt. */
  #arm(r: CaptureRecord): void {
    this.#clearTimers(r.captureId);
    if (TERMINAL_CAPTURE_STATUSES.has(r.status) || this.#scope.closed) return;
    this.#at(r.captureId, r.endAt, () => this.#finish(r, 'ENDED', r.status === 'LIVE' ? 'endAt reached' : r.info ?? 'endAt reached'));
    if (r.status === 'SCHEDULED') this.#at(r.captureId, r.startAt - this.opts.leadMs, () => this.#dial(r));
    else if (r.status === 'RETRYING') this.#at(r.captureId, Date.now(), () => this.#dial(r));
  }

  /** Runs `fn` at `when` (ms since the epoch), at once if past; long waits in steps. */
  #at(captureId: string, when: number, fn: () => void): void {
    let set = this.#timers.get(captureId);
    if (!set) this.#timers.set(captureId, (set = new Set()));
    const wait = when - Date.now();
    const t = setTimeout(() => {
      set.delete(t);
      if (wait > MAX_TIMER_MS) this.#at(captureId, when, fn);
      else fn();
    }, Math.min(MAX_TIMER_MS, Math.max(0, wait)));
    set.add(t);
  }

  #clearTimers(captureId: string): void {
    for (const t of this.#timers.get(captureId) ?? []) clearTimeout(t);
    this.#timers.delete(captureId);
  }

  #dial(r: CaptureRecord): void {
    if (TERMINAL_CAPTURE_STATUSES.has(r.status) || Date.now() >= r.endAt) return;
    r.attempt++;
    const callId = `${r.captureId}-${r.attempt}`;
    r.callId = callId;
    this.#set(r, 'DIALLING', null);
    this.#byCall.set(callId, r.captureId);
    try {
      this.opts.calls.startup({ ...r.call, callId, parentCallId: r.captureId });
    } catch (e) {
      this.#byCall.delete(callId);
      this.#attemptFailed(r, `startup refused: ${(e as Error).message}`, r.retry.intervalMs);
    }
  }

  #onCall(call: CallObject, final: boolean): void {
    const id = this.#byCall.get(call.callId);
    const r = id === undefined ? undefined : this.#records.get(id);
    if (!r) return;
    if (final || isTerminal(call.status)) {
      this.#byCall.delete(call.callId);
      if (TERMINAL_CAPTURE_STATUSES.has(r.status) || r.callId !== call.callId) return;
      const wasLive = r.status === 'LIVE';
      this.#attemptFailed(r, `${call.status}${call.info ? `: ${call.info}` : ''}`, wasLive ? REDIAL_AFTER_DROP_MS : r.retry.intervalMs);
      return;
    }
    if (call.status === 'ESTABLISHED' && r.status === 'DIALLING') this.#set(r, 'LIVE', null);
  }

  /** An attempt ended without the capture ending: RETRYING when the policy and endAt allow another dial, else FAILED. */
  #attemptFailed(r: CaptureRecord, why: string, waitMs: number): void {
    const exhausted = r.retry.maxAttempts > 0 && r.attempt >= r.retry.maxAttempts;
    if (exhausted) {
      this.#finish(r, 'FAILED', `${why} (attempt ${r.attempt} of ${r.retry.maxAttempts})`);
      return;
    }
    if (Date.now() + waitMs >= r.endAt) {
      this.#finish(r, r.status === 'LIVE' ? 'ENDED' : 'FAILED', `${why}; endAt reached`);
      return;
    }
    this.#set(r, 'RETRYING', why);
    this.#at(r.captureId, Date.now() + waitMs, () => this.#dial(r));
  }

  /** ENDED, CANCELLED or FAILED: timers stop, a live attempt is hung up. */
  #finish(r: CaptureRecord, status: CaptureStatus, info: string): void {
    if (TERMINAL_CAPTURE_STATUSES.has(r.status)) return;
    this.#clearTimers(r.captureId);
    const live = r.callId;
    if (live !== null && this.#byCall.has(live)) {
      this.#byCall.delete(live);
      try {
        this.opts.calls.terminate(live);
      } catch {
        // already gone
      }
    }
    this.#set(r, status, info);
  }

  #set(r: CaptureRecord, status: CaptureStatus, info: string | null): void {
    r.status = status;
    r.info = info;
    this.#save(r);
    this.opts.log.info({ captureId: r.captureId, status, attempt: r.attempt, info }, 'capture status');
    this.emit('change', this.toObject(r), TERMINAL_CAPTURE_STATUSES.has(status));
  }

  #save(r: CaptureRecord): void {
    r.updatedAt = Date.now();
    try {
      this.opts.store.save(r);
    } catch (e) {
      // The capture goes on in memory; it would not survive a restart.
      this.opts.log.error({ err: (e as Error).message, captureId: r.captureId }, 'capture store write failed');
    }
  }

  #purge(keepMs: number): void {
    for (const r of [...this.#records.values()]) {
      if (TERMINAL_CAPTURE_STATUSES.has(r.status) && r.updatedAt < Date.now() - keepMs) {
        this.#records.delete(r.captureId);
        this.opts.store.remove(r.captureId);
      }
    }
  }
}
