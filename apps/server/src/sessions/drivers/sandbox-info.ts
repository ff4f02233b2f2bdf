import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

/**
 * The server's own note about a sandbox, `sandbox.json` in its host folder (root's, 0600,
 * out of the sandbox's reach): what the next server needs to reap it and recover its work.
 * Each driver adds its own fields to the schema; read back, it is a file on disk, so checked.
 */
export const SandboxOwnerSchema = z.object({ projectId: z.string().min(1), ownerId: z.string().min(1) });

export function sandboxInfoNote<Shape extends z.ZodRawShape>(shape: Shape) {
  const schema = z.object({ ...shape, owner: SandboxOwnerSchema.optional(), startedAt: z.string().optional() }).passthrough();
  type Info = z.infer<typeof schema>;
  const file = (dir: string) => path.join(dir, 'sandbox.json');

  /** The note in `dir`, or an empty one when it is missing or not what the server writes. */
  async function read(dir: string): Promise<Partial<Info>> {
    try {
      const parsed = schema.safeParse(JSON.parse(await readFile(file(dir), 'utf8')));
      return parsed.success ? parsed.data : {};
    } catch {
      return {};
    }
  }

  /** Merges `fields` into the note in `dir`. */
  async function write(dir: string, fields: Partial<Info>) {
    await writeFile(file(dir), JSON.stringify({ ...(await read(dir)), ...fields }), { mode: 0o600 });
  }

  return { read, write };
}
