// `npm start`: builds (incrementally) and runs the server on its embedded defaults.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, root } from './build.mjs';

build();
await import(pathToFileURL(path.join(root, 'apps/server/dist/main.js')).href);
