import { readdir } from 'node:fs/promises';
import path from 'node:path';

/** Every file under `dir` (relative paths, sorted; none when it does not exist): for "nothing was left behind". */
export async function filesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (folder: string) => {
    for (const entry of await readdir(folder, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) await walk(full);
      else found.push(path.relative(dir, full));
    }
  };
  await walk(dir);
  return found.sort();
}
