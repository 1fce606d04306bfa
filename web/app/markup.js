// The saver's static markup. web/index.html carries the same markup inside
// <div id="app"> so the standalone page shows its whole layout before any
// script runs; mountSaver() hydrates that copy, or renders this one into an
// empty container (the ComfyUI sidebar tab). tests/page-markup.spec.ts fails
// when the two copies drift apart.
//
// The string is a constant: it never contains user or file data (those are
// only ever set with textContent), so parsing it is safe.
export const SAVER_MARKUP = `
<div class="ckpt-saver" data-ckpt-saver>
  <p class="ckpt-status" role="status" data-role="status">Starting the checkpoint engine…</p>
  <div class="ckpt-alert" role="alert" data-role="alert"></div>
  <form class="ckpt-form" data-role="form" novalidate>
    <fieldset class="ckpt-slots">
      <legend>Components</legend>
      <p class="ckpt-hint">Pick files or drop them (or a diffusers folder) here. A full checkpoint fills every slot it contains.</p>
      <label class="ckpt-field ckpt-folder">Diffusers folder<input type="file" webkitdirectory data-role="folder"></label>
      <section class="ckpt-slot" data-slot="model">
        <label class="ckpt-slot-label">Diffusion model<input type="file" accept=".safetensors,.sft,.ckpt,.pt,.pth,.bin" data-role="input"></label>
        <ul class="ckpt-slot-files" data-role="files"></ul>
      </section>
      <section class="ckpt-slot" data-slot="clip">
        <label class="ckpt-slot-label">Text encoders<input type="file" accept=".safetensors,.sft,.ckpt,.pt,.pth,.bin" multiple data-role="input"></label>
        <ul class="ckpt-slot-files" data-role="files"></ul>
      </section>
      <section class="ckpt-slot" data-slot="vae">
        <label class="ckpt-slot-label">VAE<input type="file" accept=".safetensors,.sft,.ckpt,.pt,.pth,.bin" data-role="input"></label>
        <ul class="ckpt-slot-files" data-role="files"></ul>
      </section>
    </fieldset>
    <fieldset class="ckpt-output">
      <legend>Output</legend>
      <label class="ckpt-field">Filename prefix<input type="text" name="filenamePrefix" value="checkpoints/ComfyUI" spellcheck="false" autocomplete="off" data-role="prefix"></label>
      <label class="ckpt-field" data-role="prediction-field" hidden>Prediction type<select data-role="prediction">
          <option value="auto">Auto (as ComfyUI detects it)</option>
          <option value="eps">Epsilon</option>
          <option value="v">V-prediction</option>
        </select></label>
      <fieldset class="ckpt-sinks">
        <legend>Save to</legend>
        <label><input type="radio" name="sink" value="opfs" checked data-role="sink">Browser storage, then download</label>
        <label data-role="sink-file" hidden><input type="radio" name="sink" value="file" data-role="sink">Save to a file on disk</label>
        <label><input type="radio" name="sink" value="blob" data-role="sink">Download directly (uses no browser storage)</label>
      </fieldset>
      <p class="ckpt-plan" data-role="plan"></p>
    </fieldset>
    <details class="ckpt-metadata" data-role="metadata">
      <summary>Metadata</summary>
      <label class="ckpt-check"><input type="checkbox" data-role="disable-metadata">Leave out prompt and workflow (like ComfyUI's --disable-metadata)</label>
      <div data-role="metadata-fields">
        <label class="ckpt-field">Prompt (API format JSON)<textarea rows="3" spellcheck="false" data-role="prompt"></textarea></label>
        <label class="ckpt-field">Workflow JSON file<input type="file" accept=".json,application/json" data-role="workflow"></label>
      </div>
      <label class="ckpt-field">Title<input type="text" autocomplete="off" data-role="title"></label>
      <label class="ckpt-field">Author<input type="text" autocomplete="off" data-role="author"></label>
      <label class="ckpt-field">Description<textarea rows="2" data-role="description"></textarea></label>
    </details>
    <div class="ckpt-actions">
      <button type="submit" data-role="save" disabled>Save checkpoint</button>
      <button type="button" data-role="cancel" disabled>Cancel</button>
    </div>
    <div class="ckpt-progress" data-role="progress-box" hidden>
      <progress max="1" value="0" data-role="progress" aria-label="Save progress"></progress>
      <span data-role="progress-text"></span>
    </div>
  </form>
  <section class="ckpt-saved" aria-label="Saved checkpoints">
    <h2>Saved checkpoints</h2>
    <p class="ckpt-storage" data-role="storage"></p>
    <ul class="ckpt-saved-list" data-role="saved-list"></ul>
    <p class="ckpt-empty" data-role="saved-empty">No checkpoints in browser storage.</p>
  </section>
</div>
`;

/** Builds a fresh copy of the markup in the container's document. */
export function buildSaverElement(doc) {
  const parsed = new DOMParser().parseFromString(SAVER_MARKUP, 'text/html');
  return doc.importNode(parsed.body.querySelector('[data-ckpt-saver]'), true);
}
