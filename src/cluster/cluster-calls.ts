/**
 * The REST API's calls when the gateway runs in a cluster: one registry in
 * Redis for every node. A startup first claims its names cluster-wide in one
 * atomic step (SPEC §2.1's 409 rules: callId, rtmpUrl + rtmpStream, toStream),
 * then runs on this node (or, with `placement: least-loaded`, on a lighter
 * node it is handed to); every change of a local call is written to the
 * registry, its claims released when it ends. `find` answers from the
 * registry (all nodes); `terminate`, DTMF, hold and transfer of a call owned
 * by another node are forwarded to that node's REST API (503 when it does not
 * answer). A node whose record expired is dead: one survivor, holding a
 * cleanup lock, reports each of its calls FAILED / NODE_LOST once, releases
 * their claims, and dials again those started with `recover: true`.
 */
import {
  ConflictError, NotFoundError, RemoteError, TypedEmitter, UnavailableError, type Logger,
} from '../shared/index.js';
import { newCallId, type CallFilter, type CallObject, type CallService, type DtmfType, type StartupParams } from '../call/index.js';
import type { SipServerCall } from '../sip/index.js';
import type { ClusterNode, NodeRecord } from './cluster-node.js';

/** Claims every key or none; the 1-based index of the first taken key, 0 when all were free. */
const CLAIM = `for i, k in ipairs(KEYS) do if redis.call('EXISTS', k) == 1 then return i end end
for _, k in ipairs(KEYS) do redis.call('SET', k, ARGV[1]) end
return 0`;
/** Releases the keys still held by this call. */
const RELEASE = `for _, k in ipairs(KEYS) do if redis.call('GET', k) == ARGV[1] then redis.call('DEL', k) end end
return 0`;

const FORWARD_TIMEOUT_MS = 5000;

export interface ClusterCallsOptions {
  placement: 'local' | 'least-loaded';
  /** Above this many live calls a startup is handed to a lighter node (least-loaded); null: no limit. */
  maxCallsPerNode: number | null;
  /** Credentials this node presents to the others' REST APIs (the cluster shares rest.users). */
  forwardAuth: { name: string; password: string } | undefined;
  /** A startup's `recover` when it gives none (`cluster.recover`). */
  recover: boolean;
  log: Logger;
}

/** A call as the registry keeps it: its owner, its object and, for recovery, how it was started. */
interface CallEntry {
  owner: string;
  call: CallObject;
  params?: StartupParams & { recover?: boolean };
}

export class ClusterCalls extends TypedEmitter<{ lost: [call: CallObject] }> {
  readonly #params = new Map<string, StartupParams & { recover?: boolean }>();
  #scanning = false;
  /** The other nodes' live calls as of the last heartbeat (the dashboard lists them). */
  others: readonly CallObject[] = [];

  constructor(private readonly node: ClusterNode, private readonly calls: CallService, private readonly o: ClusterCallsOptions) {
    super((event, err) => o.log.error({ event, err }, 'cluster listener failed'));
    calls.on('change', (call, final) => void this.#write(call, final));
    node.on('ready', () => void this.#resync());
    node.on('beat', () => {
      void this.#scan();
      void this.findAll().then((all) => {
        this.others = all.filter((c) => c.nodeId !== node.s.nodeId);
      }, () => undefined);
    });
    node.on('down', () => {
      this.others = [];
    });
  }

  get #key(): string {
    return `${this.node.prefix}calls`;
  }

  async startup(p: StartupParams & { recover?: boolean }, forwarded = false): Promise<CallObject> {
    if (!this.node.ready) throw new UnavailableError('the cluster registry (Redis) is unreachable: new calls are refused until it is back');
    if (!forwarded) {
      const other = await this.#placement();
      if (other) return this.#forward(other, '/call/startup', p) as Promise<CallObject>;
    }
    return this.#claimed(p, (q) => this.calls.startup(q));
  }

  /** An incoming capture's call, its names claimed cluster-wide first (409 → the caller answers 486). */
  answer(p: StartupParams, server: SipServerCall): Promise<CallObject> {
    if (!this.node.ready) return Promise.reject(new UnavailableError('the cluster registry (Redis) is unreachable'));
    return this.#claimed(p, (q) => this.calls.answer(q, server));
  }

  /** Claims the call's names in one step (409 when one is taken), then starts it here; the claims go again if it does not start. */
  async #claimed(p: StartupParams & { recover?: boolean }, start: (q: StartupParams & { callId: string; toStream: string }) => CallObject): Promise<CallObject> {
    const callId = p.callId ?? newCallId();
    const toStream = p.toStream ?? callId;
    const recover = p.recover ?? this.o.recover;
    const claims = this.#claims({ callId, toStream, rtmpUrl: p.rtmpUrl ?? null, rtmpStream: p.rtmpUrl ? (p.rtmpStream ?? toStream) : null });
    const taken = Number(await this.node.redis.eval(CLAIM, claims.length, ...claims.map((c) => c.key), callId));
    if (taken > 0) throw new ConflictError((claims[taken - 1] as { message: string }).message);
    try {
      this.#params.set(callId, { ...p, recover });
      return start({ ...p, callId, toStream });
    } catch (e) {
      this.#params.delete(callId);
      await this.node.redis.eval(RELEASE, claims.length, ...claims.map((c) => c.key), callId);
      throw e;
    }
  }

  async find(filter: CallFilter): Promise<CallObject[]> {
    const entries = Object.entries(filter).filter(([, v]) => v !== undefined);
    return (await this.findAll()).filter((c) => entries.every(([k, v]) => (c as unknown as Record<string, unknown>)[k] === v));
  }

  /** Every node's live calls; this node's alone while Redis is away. */
  async findAll(): Promise<CallObject[]> {
    if (!this.node.ready) return this.calls.findAll();
    const raw = await this.node.redis.hvals(this.#key);
    return raw.map((r) => (JSON.parse(r) as CallEntry).call);
  }

  async terminate(callId: string): Promise<void> {
    if (this.#local(callId)) return this.calls.terminate(callId);
    await this.#forward(await this.#owner(callId), '/call/terminate', { callId });
  }

  async setHold(callId: string, hold: boolean): Promise<CallObject> {
    if (this.#local(callId)) return this.calls.setHold(callId, hold);
    return this.#forward(await this.#owner(callId), hold ? '/call/hold' : '/call/unhold', { callId }) as Promise<CallObject>;
  }

  async transfer(callId: string, target: string): Promise<CallObject> {
    if (this.#local(callId)) return this.calls.transfer(callId, target);
    return this.#forward(await this.#owner(callId), '/call/transfer', { callId, target }) as Promise<CallObject>;
  }

  async sendDtmf(callId: string, digits: string, type: DtmfType): Promise<void> {
    if (this.#local(callId)) return this.calls.sendDtmf(callId, digits, type);
    await this.#forward(await this.#owner(callId), '/call/send_dtmf', { callId, dtmf: digits, type });
  }

  /** The live node (not this one) whose call has `streamName` (its `toStream`): the stream's claim names the call. */
  async nodeOfStream(streamName: string): Promise<NodeRecord | undefined> {
    if (!this.node.ready) return undefined;
    const callId = await this.node.redis.get(`${this.node.prefix}claim:stream:${streamName}`);
    if (callId === null || this.#local(callId)) return undefined;
    return this.#owner(callId);
  }

  /** /push for a stream of another node (PushRemote): carried out there; undefined when no other node has it. */
  async forStream(streamName: string, route: string, body: unknown): Promise<unknown> {
    const node = await this.nodeOfStream(streamName);
    return node === undefined ? undefined : this.#forward(node, route, body);
  }

  /** A request on every other live node (PushRemote): their answers, 404s left out. */
  async onOthers(route: string, body: unknown): Promise<unknown[]> {
    if (!this.node.ready) return [];
    const others = (await this.node.liveNodes()).filter((n) => n.nodeId !== this.node.s.nodeId);
    const answers = await Promise.allSettled(others.map((n) => this.#forward(n, route, body)));
    return answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
  }

  #local(callId: string): boolean {
    return this.calls.registry.has(callId);
  }

  /** The live node that owns `callId` (404 when no node has it, 503 when its owner is gone). */
  async #owner(callId: string): Promise<NodeRecord> {
    if (!this.node.ready) throw new UnavailableError('the cluster registry (Redis) is unreachable');
    const raw = await this.node.redis.hget(this.#key, callId);
    if (raw === null) throw new NotFoundError(`call ${callId} not found`);
    const { owner } = JSON.parse(raw) as CallEntry;
    const rec = await this.node.redis.get(`${this.node.prefix}node:${owner}`);
    if (rec === null) throw new UnavailableError(`call ${callId} belongs to node ${owner}, which is not live`);
    return JSON.parse(rec) as NodeRecord;
  }

  /** With least-loaded placement: a lighter live node to hand a startup to, when this one is full or much heavier. */
  async #placement(): Promise<NodeRecord | undefined> {
    if (this.o.placement !== 'least-loaded') return undefined;
    const mine = this.calls.registry.size;
    const others = (await this.node.liveNodes()).filter((n) => n.nodeId !== this.node.s.nodeId);
    const lightest = others.sort((a, b) => a.calls - b.calls)[0];
    if (!lightest) return undefined;
    const full = this.o.maxCallsPerNode !== null && mine >= this.o.maxCallsPerNode;
    const muchHeavier = mine >= 4 && lightest.calls * 2 < mine;
    if (!full && !muchHeavier) return undefined;
    if (this.o.maxCallsPerNode !== null && lightest.calls >= this.o.maxCallsPerNode) return undefined;
    this.o.log.info({ to: lightest.nodeId, mine, theirs: lightest.calls }, 'startup handed to a lighter node');
    return lightest;
  }

  /** A REST request carried out by another node; its answer, or its error passed on; 503 when it does not answer. */
  async #forward(node: NodeRecord, route: string, body: unknown): Promise<unknown> {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-gateway-forwarded': this.node.s.nodeId };
    if (this.o.forwardAuth) headers.authorization = `Basic ${Buffer.from(`${this.o.forwardAuth.name}:${this.o.forwardAuth.password}`).toString('base64')}`;
    let res: Response;
    try {
      res = await fetch(`${node.restUrl}/rest-api${route}`, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS) });
    } catch (e) {
      throw new UnavailableError(`node ${node.nodeId} did not answer (${(e as Error).message})`);
    }
    const answer = (await res.json().catch(() => ({}))) as { message?: string };
    if (res.status >= 400) throw new RemoteError(res.status, answer.message ?? `node ${node.nodeId} answered ${res.status}`);
    return answer;
  }

  #claims(c: { callId: string; toStream: string; rtmpUrl: string | null; rtmpStream: string | null }): { key: string; message: string }[] {
    const p = `${this.node.prefix}claim:`;
    return [
      { key: `${p}id:${c.callId}`, message: `a call with callId ${c.callId} already exists` },
      { key: `${p}stream:${c.toStream}`, message: `stream ${c.toStream} is already in use` },
      ...(c.rtmpUrl === null ? [] : [{ key: `${p}rtmp:${c.rtmpUrl}|${c.rtmpStream ?? ''}`, message: `${c.rtmpUrl} stream ${c.rtmpStream ?? ''} is already published` }]),
    ];
  }

  /** A local call's change into the registry; at its end, its record and claims go. */
  async #write(call: CallObject, final: boolean): Promise<void> {
    if (!this.node.ready) return;
    const r = this.node.redis;
    try {
      if (!final) {
        const params = this.#params.get(call.callId);
        const entry: CallEntry = { owner: this.node.s.nodeId, call, ...(params?.recover ? { params } : {}) };
        await r.hset(this.#key, call.callId, JSON.stringify(entry));
        return;
      }
      this.#params.delete(call.callId);
      await r.hdel(this.#key, call.callId);
      const claims = this.#claims(call);
      await r.eval(RELEASE, claims.length, ...claims.map((c) => c.key), call.callId);
    } catch (e) {
      this.o.log.warn({ err: (e as Error).message, callId: call.callId }, 'cluster registry write failed');
    }
  }

  /**
   * Back after Redis was away: this node's live calls and their claims are
   * registered again, and what it had registered of calls that ended meanwhile
   * (their end could not be written) is removed.
   */
  async #resync(): Promise<void> {
    const live = new Set(this.calls.registry.all().map((c) => c.callId));
    const all = await this.node.redis.hgetall(this.#key).catch(() => ({} as Record<string, string>));
    for (const e of Object.values(all).map((r) => JSON.parse(r) as CallEntry)) {
      if (e.owner === this.node.s.nodeId && !live.has(e.call.callId)) await this.#write(e.call, true);
    }
    for (const c of this.calls.registry.all()) {
      const call = c.toJSON();
      const claims = this.#claims(call);
      await this.node.redis.eval(CLAIM, claims.length, ...claims.map((k) => k.key), call.callId).catch(() => undefined);
      await this.#write(call, false);
    }
    this.o.log.info({ calls: this.calls.registry.size }, 'cluster registry: live calls registered again');
  }

  /** The dead nodes' calls: reported NODE_LOST once (whoever takes the cleanup lock), released, recovered when asked. */
  async #scan(): Promise<void> {
    if (this.#scanning) return;
    this.#scanning = true;
    try {
      for (const dead of await this.node.deadNodes()) {
        const lock = await this.node.redis.set(`${this.node.prefix}cleanup:${dead}`, this.node.s.nodeId, 'PX', 60_000, 'NX');
        if (lock === null) continue;
        const all = await this.node.redis.hgetall(this.#key);
        const lost = Object.values(all).map((r) => JSON.parse(r) as CallEntry).filter((e) => e.owner === dead);
        for (const e of lost) await this.#lose(e);
        await this.node.redis.srem(`${this.node.prefix}nodes`, dead);
        this.o.log.warn({ node: dead, calls: lost.length }, 'cluster: node lost, its calls released');
      }
    } catch (e) {
      this.o.log.warn({ err: (e as Error).message }, 'cluster: dead-node scan failed');
    } finally {
      this.#scanning = false;
    }
  }

  async #lose(e: CallEntry): Promise<void> {
    const call: CallObject = { ...e.call, status: 'FAILED', info: 'NODE_LOST', rtmpStreamStatus: e.call.rtmpStreamStatus };
    await this.node.redis.hdel(this.#key, call.callId);
    const claims = this.#claims(call);
    await this.node.redis.eval(RELEASE, claims.length, ...claims.map((c) => c.key), call.callId);
    this.emit('lost', call);
    if (!e.params?.recover) return;
    // The same RTMP target and stream names, a new callId linked to the lost one.
    const { callId: _old, ...params } = e.params;
    try {
      const again = await this.startup({ ...params, toStream: call.toStream, rtmpStream: call.rtmpStream ?? undefined, parentCallId: call.callId }, true);
      this.o.log.info({ lost: call.callId, callId: again.callId }, 'cluster: lost capture dialled again');
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message, lost: call.callId }, 'cluster: recovery of a lost capture failed');
    }
  }
}
