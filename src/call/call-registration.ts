/**
 * A call's registration (SPEC §2.1 sipRegisterRequired): REGISTER with digest
 * before the INVITE, unregister when the call ends, and each outcome reported
 * as a RegistrationStatusEvent body.
 */
import type { Logger } from '../shared/index.js';
import type { SipRegistration, SipUserAgent } from '../sip/index.js';
import { digestCredentials, type SipTarget } from './sip-target.js';
import type { RegistrationObject, StartupParams } from './types.js';

export class CallRegistration {
  #reg: SipRegistration | undefined;

  constructor(
    private readonly call: { callId: string; params: StartupParams; target: SipTarget; nodeId: string; log: Logger },
    private readonly report: (r: RegistrationObject) => void,
  ) {}

  /** REGISTER (answering challenges); resolves with the registrar's final answer. */
  async register(sip: SipUserAgent, authRealms: readonly string[] | undefined): Promise<{ status: number; reason: string }> {
    const { params, target: t, log } = this.call;
    this.#reg = sip.register({
      user: t.fromUser, domain: t.fromHost, destination: t.destination, auth: digestCredentials(params, t, authRealms),
      contactParams: params.sipContactParams, transport: t.transport, log,
    });
    log.info({ registrar: t.destination, user: t.fromUser }, 'registering');
    const r = await this.#reg.register();
    this.#report(r.status >= 300 ? 'FAILED' : 'REGISTERED', r.status, r.reason);
    return r;
  }

  /** The REGISTER with expires 0 once the call has ended (nothing when it never registered). */
  async unregister(): Promise<void> {
    const r = await this.#reg?.unregister();
    if (r) this.#report('UNREGISTERED', r.status, r.reason);
  }

  #report(status: RegistrationObject['status'], sipStatus: number, info: string): void {
    const { callId, params, target: t, nodeId } = this.call;
    this.report({ callId, appKey: params.appKey, nodeId, sipLogin: t.fromUser, sipDomain: t.fromHost, status, sipStatus, info, timestamp: Date.now() });
  }
}
