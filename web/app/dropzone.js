// A file input shown as a drop zone, as the saver's slots are (style.css
// .ckpt-drop): the input lies transparent over the zone, so a click anywhere
// opens the picker and the browser's "No file chosen" never shows. A file
// dropped on the zone goes into that input (and stops there, so the page's
// own drop handler does not route it to the saver's slots); the zone then
// names the file it holds. Used by the Tools panel and the ModelSpec editor.

const hasFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes('Files');

/**
 * Wraps input (type=file, single) in a drop zone.
 * @param {Document} doc
 * @param {HTMLInputElement} input
 * @param {{label: string, prompt: string, pick?: string}} text label is the
 *   input's accessible name; prompt the zone's text while it is empty
 *   ("Drop a .safetensors file here"); pick the link-styled part ("choose a file").
 * @returns {{element: HTMLLabelElement, refresh(): void}} refresh redraws the
 *   zone's text after the input was changed or cleared from code.
 */
export function dropZone(doc, input, { label, prompt, pick = 'choose a file' }) {
  input.classList.add('ckpt-drop-input');
  input.setAttribute('aria-label', label);
  const lead = doc.createTextNode('');
  const pickText = doc.createElement('span');
  pickText.className = 'ckpt-drop-pick';
  const text = doc.createElement('span');
  text.className = 'ckpt-drop-text';
  text.append(lead, pickText);
  const zone = doc.createElement('label');
  zone.className = 'ckpt-drop';
  zone.append(input, text);

  function refresh() {
    const file = input.files?.[0];
    zone.classList.toggle('ckpt-drop-filled', Boolean(file));
    lead.textContent = file ? `${file.name}: drop another here, or ` : `${prompt}, or `;
    pickText.textContent = file ? 'choose another' : pick;
  }

  input.addEventListener('change', refresh);
  zone.addEventListener('dragover', (event) => {
    if (!hasFiles(event) || input.disabled) return;
    event.preventDefault();
    event.stopPropagation();
    event.dataTransfer.dropEffect = 'copy';
    zone.classList.add('ckpt-drop-over');
  });
  zone.addEventListener('dragleave', (event) => {
    if (!zone.contains(event.relatedTarget)) zone.classList.remove('ckpt-drop-over');
  });
  zone.addEventListener('drop', (event) => {
    zone.classList.remove('ckpt-drop-over');
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.stopPropagation();
    const file = event.dataTransfer.files?.[0];
    if (!file || input.disabled) return;
    const one = new DataTransfer();
    one.items.add(file);
    input.files = one.files;
    input.dispatchEvent(new Event('change', { bubbles: true }));
  });
  refresh();
  return { element: zone, refresh };
}
