/**
 * What of a project's `package.json` gets installed, decided before anything runs.
 *
 * The manifest comes from project code (the agent writes it, an import brings it), so it
 * is validated here: every dependency must name a package of the npm registry by a
 * version, a range, a tag or an `npm:` alias. A `file:`, `link:`, git, URL or
 * `workspace:` specifier is refused with the dependency named: an install reaches the
 * registry and nothing else.
 *
 * Then it is reduced to what the video needs and Cutroom does not already provide:
 * - Remotion, React and the Remotion packages Cutroom has installed come from Cutroom, at
 *   the version it renders with (one copy on the page: the Player and the project must
 *   share `remotion` and `react`). A project that asked for another Remotion version is
 *   told (the runtime's notice).
 * - Other `@remotion/*` packages are installed at that same version, whatever was asked.
 * - Tooling that no video imports (TypeScript, type packages, linters, formatters) is not
 *   installed.
 * The project's overrides of its packages' dependencies (npm's `overrides`, pnpm's
 * `pnpm.overrides`, yarn's `resolutions`) are kept, validated as the dependencies are (only
 * registry versions; a `$name` reference names one of its own dependencies), and passed to
 * pnpm in its own form (`parent>child`); overrides of what Cutroom provides are dropped.
 * What is left is the install's manifest; its hash names the install, so two projects
 * with the same packages share one.
 */
import { createHash } from 'node:crypto';
import { PROVIDED_PACKAGES as providedPackages } from '@cutroom/template';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The Remotion version Cutroom plays and renders with. */
export const REMOTION_VERSION = (require('remotion/package.json') as { version: string }).version;

/** Largest `package.json` taken (a real one is a few kB). */
export const MAX_MANIFEST_BYTES = 256 * 1024;
/** Most dependencies installed for one project. */
export const MAX_DEPENDENCIES = 200;

export class PackagesError extends Error {
  override name = 'PackagesError';
  constructor(
    readonly code: 'manifest_invalid' | 'package_refused' | 'install_failed' | 'install_unavailable',
    message: string,
  ) {
    super(message);
  }
}

/** Packages Cutroom itself provides to every project's page and render (`@cutroom/template`). */
export const PROVIDED_PACKAGES: ReadonlySet<string> = new Set(providedPackages);

/** Development tools a video never imports. */
const isTooling = (name: string) =>
  name === 'typescript' ||
  name.startsWith('@types/') ||
  name === 'eslint' ||
  name.startsWith('eslint-') ||
  name.startsWith('@eslint/') ||
  name.startsWith('@typescript-eslint/') ||
  name.startsWith('@remotion/eslint-') ||
  name === 'prettier' ||
  name.startsWith('@biomejs/');

const NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;
/** A version, a range or a dist-tag: what the registry can answer by itself. */
const RANGE = /^[\w\s.*^~<>=|+-]*$/;

/** Whether `spec` names a registry package version (a range, a tag, or `npm:name@range`). */
export function registrySpec(spec: string): boolean {
  if (spec.length > 200) return false;
  if (spec.startsWith('npm:')) {
    const target = spec.slice(4);
    const at = target.lastIndexOf('@');
    const name = at > 0 ? target.slice(0, at) : target;
    const range = at > 0 ? target.slice(at + 1) : '';
    return NAME.test(name) && RANGE.test(range);
  }
  return RANGE.test(spec);
}

export type InstallManifest = {
  /** The install's `package.json` text (what pnpm reads). */
  text: string;
  /** `sha256` of it: the install's name. */
  key: string;
  /** How many packages it asks for directly (0: nothing to install). */
  count: number;
};

/** The install a project's `package.json` calls for; throws `PackagesError` for a manifest it cannot take. */
export function installManifest(packageJson: string): InstallManifest {
  if (Buffer.byteLength(packageJson) > MAX_MANIFEST_BYTES) {
    throw new PackagesError('manifest_invalid', `package.json is larger than ${MAX_MANIFEST_BYTES / 1024} kB.`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(packageJson);
  } catch (error) {
    throw new PackagesError('manifest_invalid', `package.json is not valid JSON: ${(error as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new PackagesError('manifest_invalid', 'package.json must hold a JSON object.');
  const dependencies: Record<string, string> = {};
  /** Every dependency as the project asked for it (what a `$name` override refers to). */
  const asked: Record<string, string> = {};
  for (const field of ['dependencies', 'devDependencies', 'optionalDependencies'] as const) {
    const listed = (parsed as Record<string, unknown>)[field];
    if (listed === undefined || listed === null) continue;
    if (typeof listed !== 'object' || Array.isArray(listed)) throw new PackagesError('manifest_invalid', `"${field}" in package.json must be an object of package names and versions.`);
    for (const [name, spec] of Object.entries(listed as Record<string, unknown>)) {
      if (!NAME.test(name) || name.length > 214) throw new PackagesError('package_refused', `"${name.slice(0, 100)}" in ${field} is not a valid npm package name.`);
      if (typeof spec !== 'string') throw new PackagesError('manifest_invalid', `The version of "${name}" in ${field} must be a string.`);
      if (!registrySpec(spec.trim())) {
        throw new PackagesError(
          'package_refused',
          `"${name}": "${spec.slice(0, 100)}" in ${field} is not a version from the npm registry. Only registry packages can be installed here (no file:, link:, git or URL dependencies); use a version such as "^1.2.3".`,
        );
      }
      asked[name] = spec.trim();
      if (PROVIDED_PACKAGES.has(name) || isTooling(name)) continue;
      // Every Remotion package at the one version Cutroom renders with.
      dependencies[name] = name.startsWith('@remotion/') ? REMOTION_VERSION : spec.trim() || 'latest';
    }
  }
  const overrides = projectOverrides(parsed as Record<string, unknown>, asked);
  const names = Object.keys(dependencies).sort();
  if (names.length > MAX_DEPENDENCIES) throw new PackagesError('manifest_invalid', `package.json asks for ${names.length} packages; at most ${MAX_DEPENDENCIES} are installed.`);
  const manifest = {
    name: 'cutroom-project-packages',
    private: true,
    dependencies: Object.fromEntries(names.map((name) => [name, dependencies[name]])),
    // A package that depends on Remotion gets Cutroom's version (removed again from the
    // install: the page's own copy serves both).
    pnpm: { overrides: { ...overrides, remotion: REMOTION_VERSION } },
  };
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  return { text, key: createHash('sha256').update(text).digest('hex').slice(0, 32), count: names.length };
}

/** Most overrides taken from one project. */
const MAX_OVERRIDES = 200;
/** An override's selector: a package name, or a name and a range (`foo@^1`). */
const SELECTOR = /^((?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*)(?:@(.+))?$/;

/**
 * The project's overrides as pnpm takes them (`{"a>b": "1.2.3"}`), from npm's `overrides`
 * (nested objects, `"."` for the package itself, `$name` references), pnpm's
 * `pnpm.overrides` and yarn's `resolutions` (`name` and `**\/name`). Throws
 * `PackagesError` for one that is not a registry version or that cannot be read.
 */
export function projectOverrides(manifest: Record<string, unknown>, asked: Record<string, string>): Record<string, string> {
  const result: Record<string, string> = {};
  const where = (field: string, key: string) => `"${key.slice(0, 100)}" in ${field}`;
  const selector = (field: string, key: string) => {
    const match = SELECTOR.exec(key);
    if (!match || key.length > 300 || (match[2] !== undefined && !registrySpec(match[2]))) {
      throw new PackagesError('manifest_invalid', `${where(field, key)} of package.json is not a package name (with an optional version range) that overrides can name.`);
    }
    return { name: match[1]!, key };
  };
  const add = (field: string, route: { name: string; key: string }[], value: unknown) => {
    if (typeof value !== 'string') throw new PackagesError('manifest_invalid', `${where(field, route.map((step) => step.key).join(' > '))} of package.json must be a version.`);
    let spec = value.trim();
    if (spec.startsWith('$')) {
      const referred = asked[spec.slice(1)];
      if (referred === undefined) throw new PackagesError('manifest_invalid', `${where(field, route.map((step) => step.key).join(' > '))} of package.json refers to ${spec}, which is not one of its dependencies.`);
      spec = referred;
    }
    if (!registrySpec(spec)) {
      throw new PackagesError(
        'package_refused',
        `${where(field, route.map((step) => step.key).join(' > '))} of package.json overrides it with "${spec.slice(0, 100)}", which is not a version from the npm registry (no file:, link:, git or URL specifiers).`,
      );
    }
    // What Cutroom provides stays Cutroom's: the page and the project share one copy.
    if (PROVIDED_PACKAGES.has(route.at(-1)!.name)) return;
    result[route.map((step) => step.key).join('>')] = spec;
    if (Object.keys(result).length > MAX_OVERRIDES) throw new PackagesError('manifest_invalid', `package.json has more than ${MAX_OVERRIDES} overrides.`);
  };
  const objectOf = (field: string, value: unknown): Record<string, unknown> | null => {
    if (value === undefined || value === null) return null;
    if (typeof value !== 'object' || Array.isArray(value)) throw new PackagesError('manifest_invalid', `"${field}" in package.json must be an object.`);
    return value as Record<string, unknown>;
  };

  // npm: nested objects; "." is the package's own version within its parent.
  const walk = (field: string, parents: { name: string; key: string }[], entries: Record<string, unknown>, depth: number) => {
    if (depth > 8) throw new PackagesError('manifest_invalid', `"${field}" in package.json nests too deep.`);
    for (const [key, value] of Object.entries(entries)) {
      if (key === '.') {
        if (parents.length === 0) throw new PackagesError('manifest_invalid', `"." at the top of "${field}" in package.json overrides nothing.`);
        add(field, parents, value);
        continue;
      }
      const step = selector(field, key);
      if (value && typeof value === 'object' && !Array.isArray(value)) walk(field, [...parents, step], value as Record<string, unknown>, depth + 1);
      else add(field, [...parents, step], value);
    }
  };
  const npmOverrides = objectOf('overrides', manifest.overrides);
  if (npmOverrides) walk('overrides', [], npmOverrides, 0);

  const pnpmField = objectOf('pnpm', manifest.pnpm);
  const pnpmOverrides = pnpmField ? objectOf('pnpm.overrides', pnpmField.overrides) : null;
  for (const [key, value] of Object.entries(pnpmOverrides ?? {})) add('pnpm.overrides', key.split('>').map((part) => selector('pnpm.overrides', part)), value);

  const resolutions = objectOf('resolutions', manifest.resolutions);
  for (const [key, value] of Object.entries(resolutions ?? {})) {
    const name = key.replace(/^\*\*\//, '');
    if (name.includes('/') && !/^@[^/]+\/[^/]+$/.test(name)) {
      throw new PackagesError('manifest_invalid', `${where('resolutions', key)} of package.json names a path of packages; only "name" and "**/name" resolutions can be taken here.`);
    }
    add('resolutions', [selector('resolutions', name)], value);
  }
  return result;
}
