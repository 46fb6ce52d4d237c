export { GatewayMetrics } from './gateway-metrics.js';
export { CallMetricsCollector, processCpuSeconds } from './collector.js';
