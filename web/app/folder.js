// Folders as inputs: a Hugging Face diffusers folder (model_index.json with
// unet/ or transformer/, text_encoder*/, vae/), a component folder, or a
// folder of shards with an *.index.json — picked with the folder input
// (webkitdirectory) or dropped (DataTransferItem.webkitGetAsEntry).
//
// A folder becomes "folder items": {name, size, path, files: [{path, file}]}
// — the Files under one component with their paths relative to the folder's
// parent, and the path the engine opens inside them (PROTOCOL.md
// "Folders"). Slots hold folder items where they hold Files; the engine
// reads only the byte ranges it needs from the Files, as for single files.

// Files that may hold weights or say how a folder is laid out; others
// (tokenizer vocabularies, READMEs, images) are never posted to the engine.
const WANTED = /\.(safetensors|sft|ckpt|pt|pth|bin|json)$/i;

/** Is x a folder item (rather than a File)? */
export function isFolderItem(x) {
  return !!x && typeof x === 'object' && !(x instanceof Blob) && Array.isArray(x.files);
}

/** The Files a slot value posts to the engine, in the order the engine numbers them. */
export function postedFiles(x) {
  if (x == null) return [];
  return isFolderItem(x) ? x.files.map((e) => e.file) : [x];
}

/** {root, files} from a webkitdirectory input's FileList, or null. */
export function folderFromInput(fileList) {
  const files = [...fileList]
    .filter((file) => file.webkitRelativePath && WANTED.test(file.name))
    .map((file) => ({ path: file.webkitRelativePath, file }));
  if (!files.length) return null;
  return { root: files[0].path.split('/')[0], files };
}

/** Is x a folder as read from a picker or a drop ({root, files}), to be opened with openFolder? */
export function isDroppedFolder(x) {
  return !!x && typeof x === 'object' && !(x instanceof Blob) && typeof x.root === 'string' && Array.isArray(x.files);
}

/**
 * What was dropped: the Files, and each dropped folder as {root, files}
 * (see isDroppedFolder). The entries are taken synchronously (the
 * DataTransfer is emptied once the drop handler returns); the walk of a
 * folder then runs on. Without a folder this is dataTransfer.files itself;
 * with one, a promise of the list in drop order.
 */
export function droppedInputs(dataTransfer) {
  const items = [...(dataTransfer?.items ?? [])].filter((item) => item.kind === 'file');
  const entries = items.map((item) => (typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null));
  if (!entries.some((entry) => entry?.isDirectory)) return [...(dataTransfer?.files ?? [])];
  const taken = items.map((item, i) => (entries[i]?.isDirectory ? entries[i] : item.getAsFile?.() ?? null));
  return Promise.all(taken.map(async (x) => (x?.isDirectory ? { root: x.name, files: await walk(x, x.name) } : x)))
    .then((list) => list.filter(Boolean));
}

async function walk(dir, prefix) {
  const out = [];
  const reader = dir.createReader();
  // readEntries returns at most ~100 entries per call; read until empty.
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) break;
    for (const entry of batch) {
      const path = `${prefix}/${entry.name}`;
      if (entry.isDirectory) {
        out.push(...await walk(entry, path));
      } else if (WANTED.test(entry.name)) {
        out.push({ path, file: await new Promise((resolve, reject) => entry.file(resolve, reject)) });
      }
    }
  }
  return out;
}

/** A folder item for path within a folder: the files under it, named by path. */
export function folderItem(folder, path) {
  const files = folder.files.filter((e) => e.path === path || e.path.startsWith(`${path}/`));
  return { name: path, path, files, size: files.reduce((n, e) => n + e.file.size, 0) };
}

/**
 * Asks the engine what a folder is. For a diffusers pipeline it returns one
 * {slot, item} per component (model, each text encoder in order, vae); for
 * any other folder one item for the whole folder, to be placed by content.
 */
export async function openFolder(engine, folder) {
  const reply = await engine.request('folder', { files: folder.files, path: folder.root });
  if (!reply.pipeline) return { pipeline: '', placed: [{ slot: '', item: folderItem(folder, folder.root) }] };
  return {
    pipeline: reply.pipeline,
    placed: reply.components.map((c) => ({ slot: c.slot, name: c.name, item: folderItem(folder, c.path) })),
  };
}
