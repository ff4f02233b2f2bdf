/**
 * Errors name files by the URLs the page loads them from
 * (`http://…/s/<id>/@fs/<working copy>/src/scenes/TitleScene.tsx?t=…:12:5`) or by their
 * path on disk. Reports (shown to the user, sent to the agent) name them relative to the
 * working copy (`src/scenes/TitleScene.tsx:12:5`) and never show the server's folders,
 * the sandbox's id or an installed package's absolute path.
 */
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A path (kept) then a query such as Vite's `?t=…` (dropped). */
const PATH_REST = `([^\\s?:)'"]*)(\\?[^\\s:)'"]*)?`;

/**
 * A function that rewrites a text's paths, from the URL the page loads the working
 * copy's folder from (`…/s/<id>/@fs/<working copy>/`, given by the runtime).
 */
export function createRelativiser(projectFolderUrl: string, pageUrl: string): (text: string) => string {
  const href = new URL(projectFolderUrl, pageUrl).href;
  const projectUrl = href.endsWith('/') ? href : `${href}/`;
  const url = new URL(projectUrl);
  const fsAt = url.pathname.indexOf('/@fs/');
  // The page's own prefix: `http://…/s/<id>/`.
  const pageBase = url.origin + (fsAt >= 0 ? url.pathname.slice(0, fsAt + 1) : url.pathname);
  const projectDir = fsAt >= 0 ? decodeURIComponent(url.pathname.slice(fsAt + '/@fs'.length)) : null;
  // The sandbox's folder (the working copy's parent): its Vite cache lives there.
  const sandboxDir = projectDir ? projectDir.replace(/[^/]+\/$/, '') : null;

  const rules: [RegExp, string][] = [];
  const rule = (prefix: string, replacement = '') => rules.push([new RegExp(`${escapeRegExp(prefix)}${PATH_REST}`, 'g'), `${replacement}$1`]);
  rule(projectUrl);
  if (projectDir) rule(projectDir);
  if (sandboxDir) rule(`${pageBase}@fs${sandboxDir}`);
  // Other files by URL become their path on disk: the package rule below shortens them.
  rule(`${pageBase}@fs/`, '/');
  if (sandboxDir) rule(sandboxDir);
  rule(pageBase);
  return (text) => {
    let result = rules.reduce((current, [pattern, replacement]) => current.replace(pattern, replacement), text);
    // Any absolute path left into installed packages: from `node_modules/` on.
    result = result.replace(/(?:\/@fs)?\/[^\s'"():]*?\/node_modules\//g, 'node_modules/');
    return result;
  };
}
