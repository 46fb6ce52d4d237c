export { GatewayMetrics } from './gateway-metrics.js';
export { CallMetricsCollector } from './collector.js';
