import path from 'node:path';
import type { Plugin } from 'vite';

/**
 * A function that rewrites the server's absolute paths in a text to names relative to
 * the project: `prefixes` maps each absolute folder to what it is shown as (`''` for
 * the working copy, so `src/x.tsx` stays). Longest prefixes first; `/@fs` URL forms too.
 */
export function createPathScrubber(prefixes: Record<string, string>): (text: string) => string {
  const entries = Object.entries(prefixes)
    .flatMap(([folder, shown]) => {
      const withSlash = folder.endsWith(path.sep) ? folder : folder + path.sep;
      return [
        [`/@fs${withSlash}`, shown],
        [withSlash, shown],
      ] as [string, string][];
    })
    .sort((a, b) => b[0].length - a[0].length);
  return (text) => entries.reduce((result, [prefix, shown]) => result.split(prefix).join(shown), text);
}

/**
 * Vite's error reports (the HMR `error` payload, the 500 page of a module that failed)
 * carry absolute paths: the data folder, the sandbox's id, where packages are installed.
 * Rewritten here, at the source, so the preview, the app and the agent see the project's
 * own names only. (The page's reports are rewritten again: browser stacks name URLs.)
 */
export function scrubPathsPlugin(scrub: (text: string) => string): Plugin {
  return {
    name: 'cutroom-scrub-paths',
    configureServer(server) {
      const hot = server.environments.client.hot;
      const send = hot.send.bind(hot) as (...args: unknown[]) => void;
      hot.send = ((...args: unknown[]) => {
        const [payload] = args;
        if (typeof payload === 'object' && payload !== null && (payload as { type?: unknown }).type === 'error') {
          return send(JSON.parse(scrub(JSON.stringify(payload))));
        }
        return send(...args);
      }) as typeof hot.send;
      server.middlewares.use((_request, response, next) => {
        const end = response.end.bind(response) as (...args: unknown[]) => typeof response;
        response.end = ((...args: unknown[]) => {
          const [chunk] = args;
          if (response.statusCode >= 400 && (typeof chunk === 'string' || Buffer.isBuffer(chunk))) {
            const text = scrub(String(chunk));
            if (!response.headersSent) response.removeHeader('content-length');
            return end(text, ...args.slice(1).filter((arg) => typeof arg === 'function'));
          }
          return end(...args);
        }) as typeof response.end;
        next();
      });
    },
  };
}
