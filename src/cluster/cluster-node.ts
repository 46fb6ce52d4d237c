/**
 * This gateway as a member of a cluster on Redis (SPEC §7 `cluster.*`): its
 * record `<prefix>node:<nodeId>` (REST URL, load) kept alive by a heartbeat
 * with a TTL, so a node that dies (kill -9, a lost machine) disappears within
 * `nodeTtlMs`; the set of nodes ever seen, so the survivors notice who is
 * gone. A second process with a live node id is refused at start. Redis being
 * away is a state, not an error: `ready` is false meanwhile (new calls are
 * refused by the caller), and the node announces itself again when it is back.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { ConfigError, TypedEmitter, type Logger } from '../shared/index.js';

export interface ClusterSettings {
  redisUrl: string;
  name: string;
  nodeId: string;
  heartbeatMs: number;
  nodeTtlMs: number;
}

/** A live node as it announces itself. */
export interface NodeRecord {
  nodeId: string;
  restUrl: string;
  /** Live calls on the node. */
  calls: number;
  /** Share of one core the process used over the last heartbeat (0–n). */
  cpu: number;
  instance: string;
  at: number;
}

export interface ClusterNodeEvents {
  /** Redis is (again) reachable and this node announced: re-register what it holds. */
  ready: [];
  /** Redis is unreachable. */
  down: [];
  /** A heartbeat ran: the other nodes may be checked now. */
  beat: [];
}

export class ClusterNode extends TypedEmitter<ClusterNodeEvents> {
  readonly redis: Redis;
  readonly prefix: string;
  /** This process: tells a restart of the same node id apart from a second process using it. */
  readonly instance = randomBytes(8).toString('hex');
  #timer: NodeJS.Timeout | undefined;
  #ready = false;
  #cpu = process.cpuUsage();
  #cpuAt = Date.now();
  #load: () => number = () => 0;
  /** How other nodes reach this one's REST API (forwarded requests, placement). */
  #restUrl = '';

  constructor(readonly s: ClusterSettings, private readonly log: Logger) {
    super((event, err) => log.error({ event, err }, 'cluster listener failed'));
    this.prefix = `gw:${s.name}:`;
    // Commands fail at once while Redis is away (no offline queue): the caller answers 503 instead of hanging.
    this.redis = new Redis(s.redisUrl, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 500 });
    this.redis.on('error', (e: Error) => log.debug({ err: e.message }, 'redis'));
    this.redis.on('close', () => this.#setReady(false));
    this.redis.on('ready', () => {
      if (this.#timer === undefined) return; // the first connection: start() announces
      void this.#announce(false).then(() => this.#setReady(true), (e: unknown) => log.warn({ err: (e as Error).message }, 'cluster: announce failed'));
    });
  }

  /** True while Redis answers and this node is announced. */
  get ready(): boolean {
    return this.#ready;
  }

  /** Connects and announces this node (its REST URL, its load); throws when the node id is live elsewhere or Redis cannot be reached. */
  async start(restUrl: string, load: () => number): Promise<void> {
    this.#restUrl = restUrl;
    this.#load = load;
    try {
      await this.redis.connect();
    } catch (e) {
      throw new ConfigError([`cluster.redisUrl: cannot reach Redis (${(e as Error).message})`]);
    }
    await this.#announce(true);
    this.#setReady(true);
    this.#timer = setInterval(() => void this.#beat(), this.s.heartbeatMs);
    this.log.info({ cluster: this.s.name, nodeId: this.s.nodeId }, 'joined the cluster');
  }

  /** The live nodes' records (this one included). */
  async liveNodes(): Promise<NodeRecord[]> {
    const ids = await this.redis.smembers(`${this.prefix}nodes`);
    if (ids.length === 0) return [];
    const raw = await this.redis.mget(ids.map((id) => `${this.prefix}node:${id}`));
    return raw.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as NodeRecord);
  }

  /** Node ids seen in the cluster whose record has expired. */
  async deadNodes(): Promise<string[]> {
    const ids = await this.redis.smembers(`${this.prefix}nodes`);
    const others = ids.filter((id) => id !== this.s.nodeId);
    if (others.length === 0) return [];
    const raw = await this.redis.mget(others.map((id) => `${this.prefix}node:${id}`));
    return others.filter((_, i) => raw[i] === null);
  }

  /** Leaves the cluster: stops the heartbeat and removes this node's record. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    if (this.#ready) {
      const key = `${this.prefix}node:${this.s.nodeId}`;
      try {
        const cur = await this.redis.get(key);
        if (cur !== null && (JSON.parse(cur) as NodeRecord).instance === this.instance) await this.redis.del(key);
      } catch {
        // Redis away: the record expires on its own.
      }
    }
    this.redis.disconnect();
  }

  #record(): NodeRecord {
    const now = Date.now();
    const used = process.cpuUsage(this.#cpu);
    const cpu = (used.user + used.system) / 1000 / Math.max(1, now - this.#cpuAt);
    this.#cpu = process.cpuUsage();
    this.#cpuAt = now;
    return { nodeId: this.s.nodeId, restUrl: this.#restUrl, calls: this.#load(), cpu: Math.round(cpu * 100) / 100, instance: this.instance, at: now };
  }

  /** Writes this node's record; at start only when no other live process holds the id. */
  async #announce(first: boolean): Promise<void> {
    const key = `${this.prefix}node:${this.s.nodeId}`;
    const json = JSON.stringify(this.#record());
    if (first) {
      const ok = await this.redis.set(key, json, 'PX', this.s.nodeTtlMs, 'NX');
      if (ok === null) {
        throw new ConfigError([`nodeId: "${this.s.nodeId}" is already live in cluster "${this.s.name}" (another process, or one that died less than cluster.nodeTtlMs ago)`]);
      }
    } else {
      await this.redis.set(key, json, 'PX', this.s.nodeTtlMs);
    }
    await this.redis.sadd(`${this.prefix}nodes`, [this.s.nodeId]);
  }

  async #beat(): Promise<void> {
    if (!this.#ready) return;
    try {
      await this.#announce(false);
      this.emit('beat');
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'cluster heartbeat failed');
    }
  }

  #setReady(ready: boolean): void {
    if (ready === this.#ready) return;
    this.#ready = ready;
    this.log.warn({ ready }, ready ? 'cluster registry reachable' : 'cluster registry (Redis) unreachable: calls go on, new ones are refused');
    this.emit(ready ? 'ready' : 'down');
  }
}
