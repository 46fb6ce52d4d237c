/**
 * Captures in a cluster (SPEC §7 `capture.store: "redis"`): schedules and
 * incoming declarations in the cluster's Redis (`<prefix>captures`,
 * `<prefix>incoming`), so every node sees them, and the lease that makes
 * exactly one node run each due capture: `<prefix>capture-lease:<id>` holding
 * the node id with a TTL (`cluster.nodeTtlMs`), renewed by its holder — when
 * that node dies the lease expires and another node takes the capture over.
 */
import type { CaptureLease, CaptureRecord, CaptureStore, IncomingDeclaration } from '../capture/index.js';
import type { ClusterNode } from './cluster-node.js';

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const ACQUIRE = `local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if cur then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`;

export class RedisCaptureStore implements CaptureStore {
  constructor(private readonly node: ClusterNode) {}

  async load(): Promise<CaptureRecord[]> {
    return (await this.node.redis.hvals(`${this.node.prefix}captures`)).map((r) => JSON.parse(r) as CaptureRecord);
  }

  save(r: CaptureRecord): Promise<unknown> {
    return this.node.redis.hset(`${this.node.prefix}captures`, r.captureId, JSON.stringify(r));
  }

  remove(captureId: string): Promise<unknown> {
    return this.node.redis.hdel(`${this.node.prefix}captures`, captureId);
  }

  async loadIncoming(): Promise<IncomingDeclaration[]> {
    return (await this.node.redis.hvals(`${this.node.prefix}incoming`)).map((r) => JSON.parse(r) as IncomingDeclaration);
  }

  saveIncoming(d: IncomingDeclaration): Promise<unknown> {
    return this.node.redis.hset(`${this.node.prefix}incoming`, d.userPart, JSON.stringify(d));
  }

  removeIncoming(userPart: string): Promise<unknown> {
    return this.node.redis.hdel(`${this.node.prefix}incoming`, userPart);
  }

  close(): void {
    // The connection belongs to the cluster node.
  }
}

export class RedisCaptureLease implements CaptureLease {
  readonly nodeId: string;

  constructor(private readonly node: ClusterNode) {
    this.nodeId = node.s.nodeId;
  }

  async acquire(captureId: string): Promise<boolean> {
    return Number(await this.node.redis.eval(ACQUIRE, 1, this.#key(captureId), this.nodeId, String(this.node.s.nodeTtlMs))) === 1;
  }

  async renew(captureId: string): Promise<boolean> {
    return Number(await this.node.redis.eval(RENEW, 1, this.#key(captureId), this.nodeId, String(this.node.s.nodeTtlMs))) === 1;
  }

  async release(captureId: string): Promise<void> {
    await this.node.redis.eval(RELEASE, 1, this.#key(captureId), this.nodeId);
  }

  #key(captureId: string): string {
    return `${this.node.prefix}capture-lease:${captureId}`;
  }
}
