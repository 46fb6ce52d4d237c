export { dashboardRouter, type DashboardOptions, type DashboardPlayer, type DashboardSnapshot, type DashboardRouter } from './router.js';
export { buildRows, RateTracker, type CallRow, type TrackRow, type TargetRow, type DashboardCall } from './snapshot.js';
