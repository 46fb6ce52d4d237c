export { configSchema, isLoopbackHost, type GatewayConfig } from './schema.js';
export { loadConfig, parseConfig, deepMerge, envOverrides } from './load.js';
