export { createRestApp, type RestOptions } from './app.js';
