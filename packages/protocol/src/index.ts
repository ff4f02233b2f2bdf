export * from './errors.js';
export * from './rest.js';
export * from './ws.js';
