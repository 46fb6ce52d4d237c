export { createRestApp, type RestOptions } from './app.js';
export { pushRouter } from './push-routes.js';
export { hlsRouter, type HlsRouteOptions } from './hls-routes.js';
