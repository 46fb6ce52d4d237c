/**
 * Session timers (RFC 4028): the Session-Expires / Min-SE codec (pure) and
 * the per-dialog timer that either refreshes the session half-way through
 * the interval when we are the refresher (§10), or hangs up shortly before
 * it lapses when the far end is and stays silent (§10: BYE at
 * `interval - min(32 s, interval / 3)`).
 */
import { ParseError, type Logger } from '../shared/index.js';
import { parseParams, splitOutside } from './headers.js';
import type { SipHeader } from './message.js';

/** §4: the smallest interval a UA may use; our Min-SE. */
export const MIN_SE = 90;

/** A Session-Expires value (§4): the interval and who refreshes (`uac` / `uas` of the refreshing request). */
export interface SessionExpires {
  seconds: number;
  refresher: 'uac' | 'uas' | undefined;
}

/** Parses `1800;refresher=uac` (also the compact form's value). Throws ParseError. */
export function parseSessionExpires(value: string): SessionExpires {
  const semi = value.indexOf(';');
  const num = (semi < 0 ? value : value.slice(0, semi)).trim();
  if (!/^\d{1,9}$/.test(num)) throw new ParseError(`bad Session-Expires: ${value}`);
  const params = semi < 0 ? new Map<string, string | null>() : parseParams(splitOutside(value.slice(semi + 1), ';'));
  const r = params.get('refresher')?.toLowerCase();
  return { seconds: Number(num), refresher: r === 'uac' || r === 'uas' ? r : undefined };
}

/** Parses a Min-SE value (`90`, maybe with parameters). Throws ParseError. */
export function parseMinSe(value: string): number {
  const num = (value.split(';')[0] ?? '').trim();
  if (!/^\d{1,9}$/.test(num)) throw new ParseError(`bad Min-SE: ${value}`);
  return Number(num);
}

/** Headers of a session refresh we send (§7.4): Session-Expires with us as refresher. */
export function refreshHeaders(seconds: number, minSe = MIN_SE): SipHeader[] {
  return [
    { name: 'Session-Expires', value: `${seconds};refresher=uac` },
    { name: 'Min-SE', value: String(Math.min(seconds, minSe)) },
  ];
}

export interface SessionTimerHooks {
  /** Smallest interval armed, seconds (our Min-SE); a smaller one is raised to it. Default MIN_SE. */
  minSeconds?: number;
  /** Sends a refresh (UPDATE or re-INVITE); resolves with the final status and the 2xx's Session-Expires. */
  refresh(seconds: number): Promise<{ status: number; sessionExpires: SessionExpires | undefined }>;
  /** The session lapsed (or a refresh got 408/481): hang up. */
  expire(reason: string): void;
  log: Logger;
}

/** The session-timer of one dialog. `close()` clears its timer. */
export class SessionTimer {
  readonly #hooks: SessionTimerHooks;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Current interval (s) and whether we refresh; undefined when no timer runs. */
  state: { seconds: number; weRefresh: boolean } | undefined;

  constructor(hooks: SessionTimerHooks) {
    this.#hooks = hooks;
  }

  /**
   * (Re)arms from the Session-Expires of a 2xx, or of a far-end refresh we
   * answered. `weAreUac`: we sent the request that 2xx answers.
   */
  arm(se: SessionExpires | undefined, weAreUac: boolean): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#closed || !se || se.seconds <= 0) {
      this.state = undefined;
      return;
    }
    // A tiny interval would have us refresh (or judge the far end) many times a second.
    const min = this.#hooks.minSeconds ?? MIN_SE;
    if (se.seconds < min) se = { ...se, seconds: min };
    // §7.2: a 2xx without refresher leaves the choice to the UAC: we refresh.
    const refresher = se.refresher ?? (weAreUac ? 'uac' : 'uas');
    const weRefresh = (refresher === 'uac') === weAreUac;
    this.state = { seconds: se.seconds, weRefresh };
    if (weRefresh) this.#timer = setTimeout(() => void this.#refresh(), (se.seconds * 1000) / 2);
    else {
      const guard = se.seconds - Math.min(32, se.seconds / 3);
      this.#timer = setTimeout(() => this.#hooks.expire('Session timer expired'), guard * 1000);
    }
    this.#hooks.log.debug({ seconds: se.seconds, weRefresh }, 'session timer armed');
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #refresh(): Promise<void> {
    const s = this.state;
    if (this.#closed || !s) return;
    const r = await this.#hooks.refresh(s.seconds);
    if (this.#closed) return;
    if (r.status >= 200 && r.status < 300) {
      this.arm(r.sessionExpires ?? { seconds: s.seconds, refresher: 'uac' }, true);
      return;
    }
    // §10: a refresh answered 408 or 481 (or never) ends the session; any other error leaves it to lapse.
    if (r.status === 408 || r.status === 481) {
      this.#hooks.expire(`session refresh ${r.status}`);
      return;
    }
    this.#hooks.log.warn({ status: r.status }, 'session refresh refused');
    this.arm({ seconds: Math.max(1, s.seconds / 2), refresher: 'uas' }, true);
  }
}
