import { Registry, Counter, Gauge, collectDefaultMetrics } from 'prom-client';

/**
 * The Prometheus registry. This holds the families wired so far; SPEC §8's
 * full list grows with the modules that feed it.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly liveCalls = new Gauge({ name: 'gateway_calls_live', help: 'Calls not yet ended', registers: [this.registry] });
  readonly callsEnded = new Counter({
    name: 'gateway_calls_ended_total', help: 'Calls ended, by final status and reason', labelNames: ['status', 'reason'] as const, registers: [this.registry],
  });
  readonly webhookDeliveries = new Counter({
    name: 'gateway_webhook_deliveries_total', help: 'Webhook deliveries by result', labelNames: ['result'] as const, registers: [this.registry],
  });
  readonly restRequests = new Counter({
    name: 'gateway_rest_requests_total', help: 'REST requests by route and status', labelNames: ['route', 'status'] as const, registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'gateway_process_' });
  }
}
