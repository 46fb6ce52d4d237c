export { createRestApp, type CallApi, type RestOptions } from './app.js';
export { pushRouter } from './push-routes.js';
export { basicAuth, checkBasic, REALM, type BasicUser } from './basic-auth.js';
export { hlsRouter, type HlsRouteOptions } from './hls-routes.js';
export { captureRouter } from './capture-routes.js';
