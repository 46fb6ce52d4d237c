import { randomBytes } from 'node:crypto';
import { TypedEmitter, ValidationError, type CodecName, type Logger } from '../shared/index.js';
import type { SipServerCall } from '../sip/index.js';
import { Call } from './call.js';
import type { CallDeps } from './call-deps.js';
import { CallRegistry } from './registry.js';
import type { CallFilter, CallObject, DtmfType, RegistrationObject, StartupParams, TransferObject } from './types.js';

export interface CallServiceOptions extends Omit<CallDeps, 'log' | 'sessionId'> {
  maxCalls: number;
  defaultDomain: string | null;
  log: Logger;
}

export interface CallServiceEvents {
  /** Every status / rtmpStreamStatus change of every call, in order per call. */
  change: [call: CallObject, final: boolean];
  /** A call was accepted (metrics follow it from here until `callClosed`). */
  callStarted: [call: Call];
  /** A call's media is torn down: its statistics are final. */
  callClosed: [call: Call];
  /** A call's registration changed (RegistrationStatusEvent). */
  registration: [r: RegistrationObject];
  /** A step of a call's transfer (TransferStatusEvent). */
  transfer: [t: TransferObject];
}

/** ≥16 random URL-safe characters (SPEC §2.1). */
export function newCallId(): string {
  return randomBytes(12).toString('base64url');
}

/** The call layer's surface for the REST API: start, find, terminate, DTMF. */
export class CallService extends TypedEmitter<CallServiceEvents> {
  readonly registry: CallRegistry<Call>;
  readonly #closing = new Set<Promise<void>>();
  readonly #sessionId = newCallId();

  constructor(private readonly opts: CallServiceOptions) {
    super((event, error) => opts.log.error({ event, err: error }, 'call service listener failed'));
    this.registry = new CallRegistry(opts.maxCalls);
  }

  /** A new call, dialled. */
  startup(p: StartupParams): CallObject {
    return this.#start(p, undefined);
  }

  /** A new call the far end placed: its INVITE answered (SPEC §2.9 incoming captures). */
  answer(p: StartupParams, incoming: SipServerCall): CallObject {
    return this.#start(p, incoming);
  }

  #start(p: StartupParams, incoming: SipServerCall | undefined): CallObject {
    const callId = p.callId ?? newCallId();
    const toStream = p.toStream ?? callId;
    const params = { ...p, callId, toStream };
    const codecs = withoutStripped(this.opts.codecs, p.stripCodecs);
    const call = new Call(params, { ...this.opts, codecs, sessionId: this.#sessionId }, this.opts.defaultDomain);
    this.registry.add(call);
    call.on('registration', (r) => this.emit('registration', r));
    call.on('transfer', (t) => this.emit('transfer', t));
    call.on('change', (obj, final) => {
      if (final) this.registry.remove(call);
      this.emit('change', obj, final);
    });
    const closed = new Promise<void>((resolve) => call.once('closed', resolve));
    this.#closing.add(closed);
    void closed.then(() => {
      this.#closing.delete(closed);
      this.emit('callClosed', call);
    });
    this.emit('callStarted', call);
    call.start(incoming);
    return call.toJSON();
  }

  find(filter: CallFilter): CallObject[] {
    return this.registry.find(filter).map((c) => c.toJSON());
  }

  findAll(): CallObject[] {
    return this.registry.all().map((c) => c.toJSON());
  }

  terminate(callId: string): void {
    this.registry.get(callId).terminate();
  }

  /** `/call/hold` / `/call/unhold`: resolves once the far end accepted; 404, 409 (wrong status) or 502 (refused). */
  async setHold(callId: string, hold: boolean): Promise<CallObject> {
    const call = this.registry.get(callId);
    await call.setHold(hold);
    return call.toJSON();
  }

  /** `/call/transfer`: resolves once the far end accepted the REFER; 404, 409 (wrong status, one running) or 502 (refused). */
  async transfer(callId: string, target: string): Promise<CallObject> {
    const call = this.registry.get(callId);
    await call.transfer(target);
    return call.toJSON();
  }

  sendDtmf(callId: string, digits: string, type: DtmfType): void {
    this.registry.get(callId).sendDtmf(digits, type);
  }

  /** Refuses new calls, hangs up every live call and waits for their media to close. */
  async close(): Promise<void> {
    this.registry.closeForNew();
    await Promise.all(this.registry.all().map((c) => c.close('NORMAL_CALL_CLEARING')));
    await Promise.all([...this.#closing]);
  }
}

/** The configured codecs minus a call's `stripCodecs`; refuses a list that leaves nothing to offer. */
function withoutStripped(c: CallDeps['codecs'], strip: readonly CodecName[] | undefined): CallDeps['codecs'] {
  if (strip === undefined || strip.length === 0) return c;
  const out = { ...c, audio: c.audio.filter((n) => !strip.includes(n)), video: c.video.filter((n) => !strip.includes(n)) };
  if (!out.audio.some((n) => n !== 'telephone-event') && out.video.length === 0) {
    throw new ValidationError('stripCodecs: leaves no audio or video codec to offer');
  }
  return out;
}
