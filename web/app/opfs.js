// Page-side access to the origin private file system (OPFS): only what the
// page needs to hand a finished checkpoint to the browser's download
// manager. Writing and listing happen in the worker.

/** True when this browser offers OPFS to pages. */
export function hasOPFS() {
  return typeof navigator !== 'undefined' && typeof navigator.storage?.getDirectory === 'function';
}

/** The File at a "/"-separated OPFS path such as "checkpoints/ComfyUI_00001_.safetensors". */
export async function opfsFile(path) {
  const parts = String(path).split('/').filter((p) => p !== '');
  if (parts.length === 0) throw new Error(`not an OPFS file path: "${path}"`);
  let dir = await navigator.storage.getDirectory();
  for (const name of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(name);
  const handle = await dir.getFileHandle(parts[parts.length - 1]);
  return handle.getFile();
}

/**
 * Starts a browser download of blob under fileName with <a download> and an
 * object URL. The URL stays valid until revokeLater's delay passes (the
 * download manager resolves it when the download starts; revoking at once
 * can cancel a large download in some browsers).
 */
export function startDownload(doc, blob, fileName, urls) {
  const url = URL.createObjectURL(blob);
  const anchor = doc.createElement('a');
  anchor.href = url;
  anchor.download = fileName;
  anchor.hidden = true;
  doc.body.append(anchor);
  anchor.click();
  anchor.remove();
  urls.add(url);
  setTimeout(() => {
    URL.revokeObjectURL(url);
    urls.delete(url);
  }, 120_000);
}
