export { WebhookDispatcher, type WebhookOptions, type DeliveryResult } from './dispatcher.js';
