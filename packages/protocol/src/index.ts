export * from './agent.js';
export * from './decode.js';
export * from './errors.js';
export * from './rest.js';
export * from './routes.js';
export * from './preview.js';
export * from './sandbox.js';
export * from './ws.js';
