/** What the server needs to know about the runtime: where its entry point is. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const runtimeEntry = path.join(path.dirname(fileURLToPath(import.meta.url)), 'main.js');
export { previewDenyList, shareDependencyCache } from './preview-server.js';
