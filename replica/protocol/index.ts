export * from './limits.js';
export * from './errors.js';
export * from './client.js';
export * from './peer.js';
export * from './address.js';
export * from './autopilot.js';
