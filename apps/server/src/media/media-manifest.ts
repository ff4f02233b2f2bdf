import { type FileChange, type MediaAsset, MediaManifest, mediaPath } from '@cutroom/protocol';

export const EMPTY_MANIFEST: MediaManifest = { version: 1, media: [] };

/**
 * A version's `.cutroom/media.json`, as git holds it (null: the version has none). Only the
 * server writes one (a commit of a working copy keeps the latest version's, an import drops
 * any it brings), but it is read as untrusted all the same: an entry that does not parse,
 * or whose path is not `public/<its name>`, is left out.
 */
export function parseManifest(text: string | null): MediaManifest {
  if (text === null) return EMPTY_MANIFEST;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return EMPTY_MANIFEST;
  }
  const parsed = MediaManifest.safeParse(json);
  if (!parsed.success) return EMPTY_MANIFEST;
  const seen = new Set<string>();
  const media = parsed.data.media.filter((asset) => {
    if (asset.path !== mediaPath(asset.name) || seen.has(asset.name)) return false;
    seen.add(asset.name);
    return true;
  });
  return { version: 1, media };
}

/** The manifest as it is written: stable key order, one asset per line block, a final newline. */
export function serializeManifest(manifest: MediaManifest): string {
  const media = [...manifest.media].sort((a, b) => a.name.localeCompare(b.name, 'en'));
  return `${JSON.stringify({ version: 1, media }, null, 2)}\n`;
}

/** The manifest with `asset` in it (replacing one of the same name). */
export function withAsset(manifest: MediaManifest, asset: MediaAsset): MediaManifest {
  return { version: 1, media: [...manifest.media.filter((entry) => entry.name !== asset.name), asset] };
}

/** The manifest without the asset called `name`. */
export function withoutAsset(manifest: MediaManifest, name: string): MediaManifest {
  return { version: 1, media: manifest.media.filter((entry) => entry.name !== name) };
}

/** Bytes of media a manifest pins, each stored file counted once. */
export function manifestBytes(manifest: MediaManifest): number {
  const bySha = new Map(manifest.media.map((asset) => [asset.sha256, asset.size]));
  return [...bySha.values()].reduce((sum, size) => sum + size, 0);
}

/**
 * What changed in a project's media between two manifests, as the files a person sees
 * (`public/<name>`): added, deleted, or modified (other bytes under the same name), in
 * name order. What history shows in place of the manifest's JSON.
 */
export function mediaChanges(before: MediaManifest, after: MediaManifest): { path: string; change: FileChange; asset: MediaAsset }[] {
  const old = new Map(before.media.map((asset) => [asset.name, asset]));
  const now = new Map(after.media.map((asset) => [asset.name, asset]));
  const changes: { path: string; change: FileChange; asset: MediaAsset }[] = [];
  for (const name of [...new Set([...old.keys(), ...now.keys()])].sort((a, b) => a.localeCompare(b, 'en'))) {
    const was = old.get(name);
    const is = now.get(name);
    if (was && !is) changes.push({ path: was.path, change: 'deleted', asset: was });
    else if (is && !was) changes.push({ path: is.path, change: 'added', asset: is });
    else if (was && is && was.sha256 !== is.sha256) changes.push({ path: is.path, change: 'modified', asset: is });
  }
  return changes;
}
