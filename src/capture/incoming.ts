/**
 * Incoming captures (SPEC §2.9): a declared user part makes
 * `sip:<userPart>@<gateway>` answerable, so a conference server can dial the
 * gateway instead of the other way round. An INVITE to it is checked — the
 * declaration exists and has not expired (else 404), the source is allowed
 * (else 403), the caller's digest credential when one is set (401 challenge,
 * then 403 for a wrong one) — and becomes an ordinary call with
 * `incoming: true`: our SDP answer to its offer, the declaration's RTMP
 * target and `toStream`, the same statuses, events and `/call/*` methods.
 * Over the call limit it is 486, while shutting down 503.
 */
import { BlockList, isIP } from 'node:net';
import { ConflictError, GatewayError, NotFoundError, ValidationError, type Logger } from '../shared/index.js';
import { DigestServer, parseNameAddr, getHeader, type SipServerCall } from '../sip/index.js';
import { newCallId, type CallObject, type CallService, type StartupParams } from '../call/index.js';
import type { CaptureStore, IncomingDeclaration } from './types.js';

export interface IncomingOptions {
  calls: CallService;
  store: CaptureStore;
  /** The address far ends dial (`sip:<userPart>@host:port`). */
  advertised: { host: string; port: number };
  /** The store is shared by the nodes of a cluster (Redis): read at each INVITE. */
  shared?: boolean;
  /** How the call is answered; default `calls.answer` (in a cluster: its names claimed cluster-wide first). */
  answer?: (p: StartupParams, server: SipServerCall) => CallObject | Promise<CallObject>;
  log: Logger;
}

/** A declaration as answered (no password), with the URI to dial. */
export type IncomingObject = Omit<IncomingDeclaration, 'sipPassword' | 'expiresAt'> & { sipUri: string; expiresAt: string | null };

export class IncomingCaptures {
  readonly #decls = new Map<string, IncomingDeclaration>();
  readonly #digest: DigestServer;

  constructor(private readonly opts: IncomingOptions) {
    this.#digest = new DigestServer(opts.advertised.host);
  }

  /** Reads the declarations kept in the store. */
  async start(): Promise<void> {
    for (const d of await this.opts.store.loadIncoming()) this.#decls.set(d.userPart, d);
  }

  create(d: IncomingDeclaration): IncomingObject {
    if (this.#decls.has(d.userPart)) throw new ConflictError(`user part ${d.userPart} is already declared`);
    if (d.expiresAt !== undefined && d.expiresAt <= Date.now()) throw new ValidationError('expiresAt: is in the past');
    if ((d.sipLogin === undefined) !== (d.sipPassword === undefined)) throw new ValidationError('sipLogin and sipPassword: give both or neither');
    for (const s of d.allowedSources ?? []) sourceList([s]);
    this.#decls.set(d.userPart, d);
    void Promise.resolve(this.opts.store.saveIncoming(d)).catch((e: unknown) => this.opts.log.error({ err: (e as Error).message }, 'capture store write failed'));
    this.opts.log.info({ userPart: d.userPart }, 'incoming capture declared');
    return this.toObject(d);
  }

  find(userPart: string): IncomingObject {
    const d = this.#decls.get(userPart);
    if (!d) throw new NotFoundError(`no incoming capture ${userPart}`);
    return this.toObject(d);
  }

  findAll(): IncomingObject[] {
    return [...this.#decls.values()].map((d) => this.toObject(d));
  }

  delete(userPart: string): IncomingObject {
    const o = this.find(userPart);
    this.#decls.delete(userPart);
    void Promise.resolve(this.opts.store.removeIncoming(userPart)).catch((e: unknown) => this.opts.log.error({ err: (e as Error).message }, 'capture store write failed'));
    return o;
  }

  toObject(d: IncomingDeclaration): IncomingObject {
    const { sipPassword: _secret, expiresAt, ...rest } = d;
    const { host, port } = this.opts.advertised;
    return { ...rest, expiresAt: expiresAt === undefined ? null : new Date(expiresAt).toISOString(), sipUri: `sip:${d.userPart}@${host}:${port}` };
  }

  /** The user agent's handler of INVITEs outside a dialog. */
  onInvite(server: SipServerCall): void {
    if (!this.opts.shared) {
      this.#answer(server);
      return;
    }
    // A store the cluster shares: declared or deleted on another node since we last looked, the store knows.
    void Promise.resolve(this.opts.store.loadIncoming()).then((all) => {
      this.#decls.clear();
      for (const d of all) this.#decls.set(d.userPart, d);
    }, (e: unknown) => this.opts.log.warn({ err: (e as Error).message }, 'capture store read failed')).then(() => this.#answer(server));
  }

  #answer(server: SipServerCall): void {
    const d = this.#decls.get(server.userPart);
    const log = this.opts.log.child({ userPart: server.userPart, source: server.source.host });
    if (!d || (d.expiresAt !== undefined && d.expiresAt <= Date.now())) {
      log.info('INVITE for no declared incoming capture');
      server.reject(404, 'Not Found');
      return;
    }
    if (d.allowedSources && !sourceList(d.allowedSources).check(server.source.host, isIP(server.source.host) === 6 ? 'ipv6' : 'ipv4')) {
      log.warn('INVITE from a source the capture does not allow');
      server.reject(403, 'Forbidden');
      return;
    }
    if (d.sipLogin !== undefined && d.sipPassword !== undefined) {
      const check = this.#digest.check(server.invite, d.sipLogin, d.sipPassword);
      if (check === 'missing' || check === 'stale') {
        server.reject(401, 'Unauthorized', [this.#digest.challenge(check === 'stale')]);
        return;
      }
      if (check === 'wrong') {
        log.warn('INVITE with a wrong credential');
        server.reject(403, 'Forbidden');
        return;
      }
    }
    let from: string;
    try {
      from = parseNameAddr(getHeader(server.invite, 'From') ?? '').uri.user ?? 'unknown';
    } catch {
      from = 'unknown';
    }
    const remote = `sip:${from}@${server.source.host}:${server.source.port}`;
    const answer = this.opts.answer ?? ((p: StartupParams, s: SipServerCall) => this.opts.calls.answer(p, s));
    void Promise.resolve().then(() => answer({
      callId: newCallId(), callee: remote, toStream: d.toStream, rtmpUrl: d.rtmpUrl, rtmpStream: d.rtmpStream,
      hasAudio: d.hasAudio, hasVideo: d.hasVideo, sipRegisterRequired: false, appKey: d.appKey, custom: d.custom,
      incoming: { caller: from, userPart: d.userPart },
    }, server)).catch((e: unknown) => {
      // Over rest.maxCalls → 486; shutting down → 503; a live call already on this stream → 486.
      const status = e instanceof GatewayError && e.httpStatus === 503 && /shut/i.test(e.message) ? 503 : 486;
      log.warn({ err: (e as Error).message, status }, 'incoming capture refused');
      server.reject(status, status === 503 ? 'Service Unavailable' : 'Busy Here');
    });
  }
}

/** The allowed sources as a BlockList (used as an allow list); a bad entry is a 400. */
function sourceList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split('/');
    const family = isIP(addr ?? '');
    if (family === 0 || (bits !== undefined && !/^\d{1,3}$/.test(bits))) throw new ValidationError(`allowedSources: "${e}" is not an IP address or CIDR`);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr as string, type);
    else list.addSubnet(addr as string, Number(bits), type);
  }
  return list;
}
