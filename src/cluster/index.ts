/** Many gateway nodes, one API: membership and the call registry on Redis (SPEC §7 `cluster.*`). */
export { ClusterNode, type ClusterSettings, type NodeRecord } from './cluster-node.js';
export { ClusterCalls, type ClusterCallsOptions } from './cluster-calls.js';
export { createCluster } from './join.js';
export { RedisCaptureLease, RedisCaptureStore } from './capture-store.js';
