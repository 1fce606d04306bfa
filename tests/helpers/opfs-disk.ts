// Where a persistent Chromium profile keeps OPFS files on disk: each OPFS
// file is one plain, byte-identical file under
// <profile>/Default/File System/ (browser-limits.md §6). The tests read a
// multi-GB output there instead of copying it once more through a download.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** The backing files under the profile's File System folder with exactly `bytes` bytes. */
export async function opfsBackingFiles(userDataDir: string, bytes: number): Promise<string[]> {
  const root = path.join(userDataDir, 'Default', 'File System');
  const found: string[] = [];
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.isFile() && (await stat(p)).size === bytes) found.push(p);
    }
  }
  await walk(root);
  return found;
}
