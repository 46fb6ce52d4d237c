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
  ConflictError, NotFoundError, Scope, TypedEmitter, UnavailableError, ValidationError, type Logger,
} from '../shared/index.js';
import { isTerminal, type CallObject, type CallService, type StartupParams } from '../call/index.js';
import {
  TERMINAL_CAPTURE_STATUSES, type CaptureLease, type CaptureObject, type CaptureRecord, type CaptureStatus, type CaptureStore, type ScheduleParams,
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
  /**
   * In a cluster (store in Redis): the lease that makes one node run each due
   * capture; every `tickMs` each node reads the store, renews its leases and
   * takes over due captures nobody holds (a node died). Absent: this node runs all.
   */
  lease?: CaptureLease;
  tickMs?: number;
  /** How an attempt's call is started; default `calls.startup` (in a cluster: its names claimed cluster-wide first). */
  start?: (p: StartupParams) => CallObject | Promise<CallObject>;
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
  /** The captures this node runs (all of them without a lease). */
  readonly #runs = new Set<string>();
  #ticking = false;
  #started = false;

  constructor(private readonly opts: CaptureServiceOptions) {
    super((event, err) => opts.log.error({ event, err }, 'capture listener failed'));
    const onCall = (call: CallObject, final: boolean): void => this.#onCall(call, final);
    opts.calls.on('change', onCall);
    this.#scope.defer(() => {
      opts.calls.off('change', onCall);
    });
    this.#scope.defer(() => opts.store.close());
  }

  /** Reads the store and arms what is due (alone); in a cluster, starts taking its share. */
  async start(): Promise<void> {
    const keep = this.opts.keepEndedMs ?? 7 * 86_400_000;
    for (const r of await this.opts.store.load()) {
      if (TERMINAL_CAPTURE_STATUSES.has(r.status) && r.updatedAt < Date.now() - keep) {
        void this.#write(() => this.opts.store.remove(r.captureId));
        continue;
      }
      this.#records.set(r.captureId, r);
      if (this.opts.lease) continue; // the tick takes what is due and free
      this.#runs.add(r.captureId);
      // Caught mid-call by a restart: that call is gone; dial again (or end) now.
      if (r.status === 'DIALLING' || r.status === 'LIVE') this.#set(r, 'RETRYING', 'the gateway restarted during the capture');
      this.#arm(r);
    }
    this.#scope.setInterval(() => this.#purge(keep), 3_600_000);
    if (this.opts.lease) {
      this.#scope.setInterval(() => void this.#tick(), this.opts.tickMs ?? 2000);
      await this.#tick();
    }
    this.#started = true;
  }

  /** `/capture/schedule`: validated, checked for overlaps, stored, armed. */
  schedule(p: ScheduleParams): CaptureObject {
    this.#ready();
    this.#validate(p);
    if (this.#records.has(p.captureId)) throw new ConflictError(`capture ${p.captureId} exists`);
    this.#checkOverlap(p);
    const now = Date.now();
    const r: CaptureRecord = { ...p, status: 'SCHEDULED', attempt: 0, callId: null, info: null, createdAt: now, updatedAt: now };
    this.#records.set(r.captureId, r);
    if (!this.opts.lease) this.#runs.add(r.captureId);
    void this.#write(() => this.opts.store.save(r));
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
    this.#ready();
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
    this.#ready();
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

  #ready(): void {
    if (!this.#started) throw new UnavailableError('captures are being loaded from the store: try again in a moment');
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
    if (TERMINAL_CAPTURE_STATUSES.has(r.status) || this.#scope.closed || !this.#runs.has(r.captureId)) return;
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
    const start = this.opts.start ?? ((p: StartupParams) => this.opts.calls.startup(p));
    void Promise.resolve().then(() => start({ ...r.call, callId, parentCallId: r.captureId })).catch((e: unknown) => {
      this.#byCall.delete(callId);
      if (r.callId === callId && r.status === 'DIALLING') this.#attemptFailed(r, `startup refused: ${(e as Error).message}`, r.retry.intervalMs);
    });
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

  /** ENDED, CANCELLED or FAILED: timers stop, a live attempt is hung up; announced unless another node did (`announce` false). */
  #finish(r: CaptureRecord, status: CaptureStatus, info: string, announce = true): void {
    if (TERMINAL_CAPTURE_STATUSES.has(r.status)) return;
    this.#clearTimers(r.captureId);
    if (this.#runs.delete(r.captureId) && this.opts.lease) void this.opts.lease.release(r.captureId).catch(() => undefined);
    const live = r.callId;
    if (live !== null && this.#byCall.has(live)) {
      this.#byCall.delete(live);
      try {
        this.opts.calls.terminate(live);
      } catch {
        // already gone
      }
    }
    if (announce) this.#set(r, status, info);
    else Object.assign(r, { status, info });
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
    void this.#write(() => this.opts.store.save(r));
  }

  /** A store write; a failure is logged (the capture goes on in memory; it would not survive a restart). */
  async #write(fn: () => void | Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.opts.log.error({ err: (e as Error).message }, 'capture store write failed');
    }
  }

  /**
   * Cluster: the store is the truth for captures another node runs (a change
   * there shows here); our leases are renewed (a lost one stops the capture
   * here); a due capture nobody holds — never started, or its node died — is
   * taken over and dialled at once; a capture of ours another node cancelled
   * or moved is followed.
   */
  async #tick(): Promise<void> {
    const lease = this.opts.lease;
    if (!lease || this.#ticking || this.#scope.closed) return;
    this.#ticking = true;
    try {
      const now = Date.now();
      for (const stored of await this.opts.store.load()) {
        const id = stored.captureId;
        const mine = this.#runs.has(id) ? this.#records.get(id) : undefined;
        if (mine) {
          if (stored.updatedAt > mine.updatedAt) this.#followed(mine, stored);
          else if (!(await lease.renew(id))) this.#lostLease(mine);
          continue;
        }
        this.#records.set(id, stored);
        if (TERMINAL_CAPTURE_STATUSES.has(stored.status) || stored.startAt - this.opts.leadMs > now) continue;
        if (!(await lease.acquire(id))) continue;
        this.#runs.add(id);
        if (stored.status !== 'SCHEDULED') this.#set(stored, 'RETRYING', `taken over by node ${lease.nodeId}`);
        this.opts.log.info({ captureId: id, status: stored.status }, 'capture taken on this node');
        this.#arm(stored);
      }
    } catch (e) {
      this.opts.log.warn({ err: (e as Error).message }, 'capture store read failed');
    } finally {
      this.#ticking = false;
    }
  }

  /** Another node changed a capture we run (cancel, update): ours follows. */
  #followed(mine: CaptureRecord, stored: CaptureRecord): void {
    if (TERMINAL_CAPTURE_STATUSES.has(stored.status)) {
      this.#finish(mine, stored.status, stored.info ?? stored.status.toLowerCase(), false);
      mine.updatedAt = stored.updatedAt;
      return;
    }
    Object.assign(mine, { startAt: stored.startAt, endAt: stored.endAt, retry: stored.retry, call: stored.call, updatedAt: stored.updatedAt });
    this.#arm(mine);
  }

  /** Our lease is gone (Redis lost it, or we were too slow): another node may run it now; this one stops without a word. */
  #lostLease(mine: CaptureRecord): void {
    this.opts.log.warn({ captureId: mine.captureId }, 'capture lease lost: left to another node');
    this.#clearTimers(mine.captureId);
    this.#runs.delete(mine.captureId);
    if (mine.callId !== null && this.#byCall.delete(mine.callId)) {
      try {
        this.opts.calls.terminate(mine.callId);
      } catch {
        // already gone
      }
    }
  }

  #purge(keepMs: number): void {
    for (const r of [...this.#records.values()]) {
      if (TERMINAL_CAPTURE_STATUSES.has(r.status) && r.updatedAt < Date.now() - keepMs) {
        this.#records.delete(r.captureId);
        void this.#write(() => this.opts.store.remove(r.captureId));
      }
    }
  }
}
