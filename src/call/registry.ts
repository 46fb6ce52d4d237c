import { ConflictError, NotFoundError, UnavailableError } from '../shared/index.js';
import type { CallObject, CallFilter } from './types.js';

/** What the registry needs of a call. */
export interface RegisteredCall {
  readonly callId: string;
  readonly toStream: string;
  readonly rtmpUrl: string | null;
  readonly rtmpStream: string | null;
  toJSON(): CallObject;
}

/**
 * Live calls and the 409 rules of SPEC §2.1: a callId, an rtmpUrl+rtmpStream
 * pair and a toStream each belong to at most one live call. A call leaves the
 * registry when it ends, freeing its names.
 */
export class CallRegistry<C extends RegisteredCall> {
  readonly #byId = new Map<string, C>();
  #closed = false;

  constructor(private readonly maxCalls: number) {}

  get size(): number {
    return this.#byId.size;
  }

  /** Refuse new calls from now on (shutdown): later `add` answers 503. */
  closeForNew(): void {
    this.#closed = true;
  }

  /** Checks the names of a call about to start; throws the REST error to answer. */
  check(names: { callId: string; toStream: string; rtmpUrl: string | null; rtmpStream: string | null }): void {
    if (this.#closed) throw new UnavailableError('the gateway is shutting down');
    if (this.#byId.size >= this.maxCalls) throw new UnavailableError(`call limit of ${this.maxCalls} reached`);
    if (this.#byId.has(names.callId)) throw new ConflictError(`a call with callId ${names.callId} already exists`);
    for (const c of this.#byId.values()) {
      if (c.toStream === names.toStream) throw new ConflictError(`stream ${names.toStream} is already in use by call ${c.callId}`);
      if (names.rtmpUrl !== null && c.rtmpUrl === names.rtmpUrl && c.rtmpStream === names.rtmpStream) {
        throw new ConflictError(`${names.rtmpUrl} stream ${names.rtmpStream ?? ''} is already published by call ${c.callId}`);
      }
    }
  }

  add(call: C): void {
    this.check(call);
    this.#byId.set(call.callId, call);
  }

  remove(call: C): void {
    if (this.#byId.get(call.callId) === call) this.#byId.delete(call.callId);
  }

  has(callId: string): boolean {
    return this.#byId.has(callId);
  }

  get(callId: string): C {
    const c = this.#byId.get(callId);
    if (!c) throw new NotFoundError(`call ${callId} not found`);
    return c;
  }

  all(): C[] {
    return [...this.#byId.values()];
  }

  findByStream(toStream: string): C | undefined {
    for (const c of this.#byId.values()) if (c.toStream === toStream) return c;
    return undefined;
  }

  /** Calls matching every given field. */
  find(filter: CallFilter): C[] {
    const entries = Object.entries(filter).filter(([, v]) => v !== undefined);
    return this.all().filter((c) => {
      const o = c.toJSON() as unknown as Record<string, unknown>;
      return entries.every(([k, v]) => o[k] === v);
    });
  }
}
