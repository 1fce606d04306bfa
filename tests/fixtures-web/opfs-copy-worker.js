// Module worker around opfs-copy.js: {file, path, chunkMiB, reader} in,
// {type:'copied', bytes, seconds, mbps} or {type:'error', message} out.
import { copyFileToOPFS } from './opfs-copy.js';

self.onmessage = async ({ data }) => {
  try {
    const { bytes, seconds } = await copyFileToOPFS(data.file, data.path, data);
    self.postMessage({ type: 'copied', bytes, seconds, mbps: bytes / seconds / 1e6 });
  } catch (err) {
    self.postMessage({ type: 'error', message: String(err) });
  }
};
