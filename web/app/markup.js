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
  <p class="ckpt-drop-banner" data-role="drop-banner" hidden>Drop the files: each goes to the slot its content fits.</p>
  <form class="ckpt-form" data-role="form" novalidate>
    <fieldset class="ckpt-slots">
      <legend>Components</legend>
      <p class="ckpt-hint">Drop the files anywhere on the page, onto a slot, or choose them. A full checkpoint, or a diffusers folder, fills every slot it holds.</p>
      <section class="ckpt-slot" data-slot="model">
        <h3 class="ckpt-slot-title">Diffusion model</h3>
        <ul class="ckpt-slot-files" data-role="files"></ul>
        <label class="ckpt-drop"><input class="ckpt-drop-input" type="file" accept=".safetensors,.sft,.ckpt,.pt,.pth,.bin" aria-label="Diffusion model" data-role="input"><span class="ckpt-drop-text" data-role="drop-text">Drop the diffusion model here, or <span class="ckpt-drop-pick">choose a file</span></span></label>
      </section>
      <section class="ckpt-slot" data-slot="clip">
        <h3 class="ckpt-slot-title">Text encoders</h3>
        <ul class="ckpt-slot-files" data-role="files"></ul>
        <label class="ckpt-drop"><input class="ckpt-drop-input" type="file" accept=".safetensors,.sft,.ckpt,.pt,.pth,.bin" multiple aria-label="Text encoders" data-role="input"><span class="ckpt-drop-text" data-role="drop-text">Drop the text encoders here, or <span class="ckpt-drop-pick">choose files</span></span></label>
      </section>
      <section class="ckpt-slot" data-slot="vae">
        <h3 class="ckpt-slot-title">VAE</h3>
        <ul class="ckpt-slot-files" data-role="files"></ul>
        <label class="ckpt-drop"><input class="ckpt-drop-input" type="file" accept=".safetensors,.sft,.ckpt,.pt,.pth,.bin" aria-label="VAE" data-role="input"><span class="ckpt-drop-text" data-role="drop-text">Drop the VAE here, or <span class="ckpt-drop-pick">choose a file</span></span></label>
      </section>
      <section class="ckpt-slot ckpt-folder">
        <h3 class="ckpt-slot-title">Or a diffusers folder</h3>
        <label class="ckpt-drop"><input class="ckpt-drop-input" type="file" webkitdirectory aria-label="Diffusers folder" data-role="folder"><span class="ckpt-drop-text">Drop a diffusers folder (model_index.json, unet/, vae/ …) to fill every slot, or <span class="ckpt-drop-pick">choose a folder</span></span></label>
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
      <label class="ckpt-field">Quantize the diffusion model<select data-role="quantize">
          <option value="">No (copy its weights as they are)</option>
          <option value="fp8_scaled">fp8 scaled (float8_e4m3fn + weight_scale)</option>
          <option value="int8">int8 tensorwise</option>
          <option value="mxfp8">mxfp8 (E8M0 block scales)</option>
          <option value="nvfp4">nvfp4 (packed E2M1, F8_E4M3 block scales)</option>
        </select></label>
      <fieldset class="ckpt-sinks">
        <legend>Save to</legend>
        <label class="ckpt-sink" data-role="sink-file" hidden><input type="radio" name="sink" value="file" data-role="sink"><span>Save to a file on disk <small class="ckpt-sink-note">asks where, then writes straight into that file</small></span></label>
        <label class="ckpt-sink"><input type="radio" name="sink" value="blob" data-role="sink"><span>Download directly (uses no browser storage) <small class="ckpt-sink-note">the download reads your files as it saves</small></span></label>
        <label class="ckpt-sink"><input type="radio" name="sink" value="opfs" data-role="sink"><span>Browser storage, then download <small class="ckpt-sink-note">kept under Saved checkpoints; written twice</small></span></label>
        <p class="ckpt-sink-why" data-role="sink-why"></p>
      </fieldset>
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
    <div class="ckpt-actions" data-role="actions">
      <p class="ckpt-plan" data-role="plan"></p>
      <div class="ckpt-alert" role="alert" data-role="alert"></div>
      <div class="ckpt-action-row">
        <button type="submit" data-role="save" disabled>Save checkpoint</button>
        <div class="ckpt-status" role="status" data-role="status">Starting the checkpoint engine…</div>
      </div>
      <div class="ckpt-progress" data-role="progress-box" hidden>
        <progress max="1" value="0" data-role="progress" aria-label="Save progress"></progress>
        <span class="ckpt-progress-text" data-role="progress-text"></span>
        <button type="button" data-role="cancel" disabled>Cancel</button>
      </div>
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
