import type { GatewayConfig } from '../config/index.js';
import type { Logger } from '../shared/index.js';
import type { CallService } from '../call/index.js';
import { ClusterNode } from './cluster-node.js';
import { ClusterCalls } from './cluster-calls.js';

/** This node's membership and the cluster's view of the calls, from `cluster.*` (redisUrl set). Not started: see ClusterNode.start. */
export function createCluster(config: Readonly<GatewayConfig>, calls: CallService, log: Logger): { node: ClusterNode; calls: ClusterCalls } {
  const c = config.cluster;
  const node = new ClusterNode({ redisUrl: c.redisUrl as string, name: c.name, nodeId: config.nodeId, heartbeatMs: c.heartbeatMs, nodeTtlMs: c.nodeTtlMs }, log);
  const user = config.rest.users[0];
  return {
    node,
    calls: new ClusterCalls(node, calls, {
      placement: c.placement, maxCallsPerNode: c.maxCallsPerNode, recover: c.recover, log,
      forwardAuth: user ? { name: user.name, password: user.password } : undefined,
    }),
  };
}
