export * from './confine.js';
export * from './diff.js';
export * from './instructions.js';
export * from './runner.js';
export * from './claude-runner.js';
export * from './create-runner.js';
export * from './ai-sdk-runner.js';
export * from './file-tools.js';
