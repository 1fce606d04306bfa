// mountTools: the "Tools" panel — one file in, and one of the engine's file
// operations on it: extract a component (as ComfyUI's ModelSave, CLIPSave and
// VAESave write it), convert its precision, or prune it. Before anything is
// written it shows what the engine planned: the dtype census of the input
// and of each output, and each output's name and size (opPlan in
// wasm/worker/PROTOCOL.md); then opRun writes it.
//
// Converted tensors are computed bytes, so the "Download directly" sink
// (a Blob of slices of the input) is offered only for extract and prune.
// The sink choice and the progress box are the saver's components
// (sinks.js, progress.js). All text from files is written with textContent.
// In the ComfyUI tab the panel is a closed <details> until the user opens
// it; its controls, status and alert regions are created then, so a tab
// that never uses it holds no second status or alert region. On the page it
// is the "Convert / extract / prune" task, built at once.

import { EngineClient, EngineError } from './engine-client.js';
import { el, linkStylesheet } from './dom.js';
import { opfsFile, startDownload } from './opfs.js';
import { formatBytes } from './format.js';
import { buildSinkChoice, initialCapabilities, mountSinkChoice, probeSinks } from './sinks.js';
import { buildProgress, mountProgress } from './progress.js';
import { dropZone } from './dropzone.js';

const OPERATIONS = [
  ['extract-model', 'Extract the diffusion model (as ModelSave)'],
  ['extract-clip', 'Extract the text encoders (as CLIPSave, one file each)'],
  ['extract-vae', 'Extract the VAE (as VAESave)'],
  ['convert', 'Convert precision'],
  ['prune', 'Prune (EMA, unused keys)'],
];
const TARGETS = [
  ['fp16', 'fp16 (F16)'],
  ['bf16', 'bf16 (BF16)'],
  ['fp8', 'fp8 e4m3fn (F8_E4M3), saturating'],
  ['fp8_e5m2', 'fp8 e5m2 (F8_E5M2), saturating'],
  ['fp8_scaled', 'quantize: fp8 scaled (float8_e4m3fn + weight_scale)'],
  ['fp8_e5m2_scaled', 'quantize: fp8 e5m2 scaled (float8_e5m2 + weight_scale)'],
  ['int8', 'quantize: int8 tensorwise (I8 + weight_scale)'],
  ['mxfp8', 'quantize: mxfp8 (F8_E4M3 + E8M0 block scales of 32)'],
  ['nvfp4', 'quantize: nvfp4 (packed E2M1 + F8_E4M3 block scales of 16)'],
  ['', 'unchanged (rewrite as .safetensors)'],
];
const QUANT_TARGETS = new Set(['fp8_scaled', 'fp8_e5m2_scaled', 'int8', 'mxfp8', 'nvfp4']);

/**
 * Why a planned operation would change nothing ('' when it changes
 * something): a convert with no tensor to convert, a prune with nothing to
 * drop or fix. Such a run would only write a copy, so Run stays off.
 */
export function noOpReason(p, { op, options }, fileName) {
  if (op === 'convert' && p.convert && p.convert.converted === 0) {
    const target = p.convert.rule || 'the target precision';
    // A torch file rewritten as .safetensors is a change even so.
    if (!options?.to && !/\.(safetensors|sft)$/i.test(fileName ?? '')) return '';
    return `Nothing to convert: no tensor of ${p.input} changes (${target}); ${p.convert.kept} kept as they are. `
      + 'Run is off, since it would only write a copy.';
  }
  if (op === 'prune' && p.prune) {
    const fixes = (p.prune.position_ids ?? []).filter((pid) => pid.action && pid.action !== 'kept').length;
    if (p.prune.dropped_ema === 0 && p.prune.promoted_ema === 0 && p.prune.dropped_unused === 0 && fixes === 0) {
      return `Nothing to prune: ${p.input} has no EMA weights and no keys ComfyUI ignores to drop. `
        + 'Run is off, since it would only write a copy.';
    }
  }
  return '';
}

function labelled(doc, text, control, cls = 'ckpt-field') {
  return el(doc, 'label', { className: cls }, [text, control]);
}

function formatCensus(census) {
  if (!census || census.length === 0) return 'no tensors';
  return census.map((c) => `${c.dtype} ${c.tensors} (${formatBytes(c.bytes)})`).join(', ');
}

/**
 * Mounts the Tools panel into container.
 *
 * @param {Element} container
 * @param {object} [options]
 * @param {string|URL} [options.baseURL] folder holding worker.js (default: web/)
 * @param {EngineClient} [options.client] an engine to share; by default the
 *   panel starts its own worker on first use.
 * @param {'classic'|'module'} [options.workerType]
 * @param {boolean} [options.collapsible] a closed <details> built when first
 *   opened (default true, the ComfyUI tab); false: built at once, without
 *   its own heading (the page's task panel names it)
 * @returns {{element: Element, stats: object, destroy(): void}}
 */
export function mountTools(container, options = {}) {
  const doc = container.ownerDocument;
  const baseURL = new URL(options.baseURL ?? '../', import.meta.url);
  linkStylesheet(doc, new URL('tools.css', baseURL));
  let client = options.client ?? null;
  const ownClient = !client;
  const engine = () => {
    if (!client) client = new EngineClient(new URL('worker.js', baseURL), { type: options.workerType ?? 'classic' });
    return client;
  };
  const urls = new Set();
  const stats = { lastPlan: null, lastDone: null };
  const collapsible = options.collapsible ?? true;
  const details = collapsible
    ? el(doc, 'details', { className: 'ckpt-panel' }, [el(doc, 'summary', { text: 'Tools: extract, convert, prune' })])
    : el(doc, 'div', { className: 'ckpt-task-body' });
  // .ckpt-saver: the saver's colours, controls and drop zones (style.css).
  const root = el(doc, 'section', { className: 'ckpt-saver ckpt-tools', 'aria-label': 'Tools' }, [details]);
  container.append(root);
  let built = false;
  if (collapsible) {
    details.addEventListener('toggle', () => {
      if (details.open && !built) {
        built = true;
        build();
      }
    });
  } else {
    built = true;
    build();
  }

  function build() {

    const file = el(doc, 'input', { type: 'file', accept: '.safetensors,.sft,.ckpt,.pt,.pth,.bin' });
    const fileZone = dropZone(doc, file, { label: 'File to process', prompt: 'Drop a checkpoint or component file here' });
    const op = el(doc, 'select', {}, OPERATIONS.map(([v, t]) => el(doc, 'option', { value: v, text: t })));
    const target = el(doc, 'select', {}, TARGETS.map(([v, t]) => el(doc, 'option', { value: v, text: t })));
    const all = el(doc, 'input', { type: 'checkbox' });
    const exclude = el(doc, 'input', { type: 'text', placeholder: 'e.g. single_blocks\\.3[0-7]\\.', spellcheck: false });
    const excludeField = labelled(doc, 'Keep in high precision (regexp of weight names, besides the input/output projections and embeddings)', exclude);
    excludeField.hidden = true;
    const ema = el(doc, 'select', {}, [
      el(doc, 'option', { value: 'drop', text: 'Drop EMA weights (model_ema.*)' }),
      el(doc, 'option', { value: 'promote', text: 'Use the EMA weights instead of the live ones' }),
      el(doc, 'option', { value: 'keep', text: 'Keep EMA weights' }),
    ]);
    const keepUnused = el(doc, 'input', { type: 'checkbox' });
    const fixPos = el(doc, 'input', { type: 'checkbox' });
    const posI64 = el(doc, 'input', { type: 'checkbox' });
    const convertBox = el(doc, 'div', { hidden: true }, [
      labelled(doc, 'Target precision', target),
      el(doc, 'label', { className: 'ckpt-check' }, [all, 'Convert every component (text encoders and VAE too), not only the diffusion model']),
      excludeField,
    ]);
    target.addEventListener('change', () => {
      excludeField.hidden = !QUANT_TARGETS.has(target.value);
    });
    const pruneBox = el(doc, 'div', { hidden: true }, [
      labelled(doc, 'EMA weights', ema),
      el(doc, 'label', { className: 'ckpt-check' }, [keepUnused, 'Keep tensors no ComfyUI model reads']),
      el(doc, 'label', { className: 'ckpt-check' }, [fixPos, 'Fix broken CLIP position_ids (changes outputs of such files)']),
      el(doc, 'label', { className: 'ckpt-check' }, [posI64, 'Store CLIP position_ids as I64']),
    ]);
    // Until the user picks a sink, it is the saver's recommendation for the
    // operation (sinks.js): the direct download where it can carry the
    // output, else the file picker or browser storage.
    const caps = initialCapabilities();
    const sinkBox = buildSinkChoice(doc, {
      name: `ckpt-tools-sink-${Math.random().toString(36).slice(2)}`,
      notes: {
        file: 'asks where for each output, then writes straight into it',
        blob: 'slices of the input file; extract and prune only',
        opfs: 'kept in browser storage; written twice',
      },
      roles: { sink: 'tools-sink', why: 'tools-sink-why' },
    });
    const sinks = mountSinkChoice(sinkBox, { caps, disableRefused: true, onChange: () => updateSinks() });
    const plan = el(doc, 'div', { className: 'ckpt-plan', dataset: { role: 'tools-plan' } });
    const status = el(doc, 'p', { className: 'ckpt-status', role: 'status', dataset: { role: 'tools-status' } });
    const alert = el(doc, 'div', { className: 'ckpt-alert', role: 'alert', dataset: { role: 'tools-alert' } });
    const run = el(doc, 'button', { type: 'submit', disabled: true, text: 'Run' });
    const progress = mountProgress(buildProgress(doc, { label: 'Tools progress', cancelLabel: 'Cancel the tool', roles: { box: 'tools-progress' } }), {
      onCancel: () => {
        if (runningId === null) return false;
        engine().cancel(runningId);
        return true;
      },
    });
    const form = el(doc, 'form', { className: 'ckpt-form', noValidate: true }, [
      el(doc, 'fieldset', {}, [
        el(doc, 'legend', { text: 'File and operation' }),
        fileZone.element,
        labelled(doc, 'Operation', op),
        convertBox,
        pruneBox,
      ]),
      sinkBox,
      plan,
      el(doc, 'div', { className: 'ckpt-actions' }, [run]),
      progress.element,
    ]);
    details.append(el(doc, 'div', { className: 'ckpt-tools-body' }, [
      el(doc, 'p', { className: 'ckpt-hint', text: 'One file in: take out its diffusion model, text encoders or VAE as ComfyUI saves them, change its precision while streaming, or drop what ComfyUI never reads. Nothing is uploaded.' }),
      status, alert, form,
    ]));

    let current = null; // {op, options}
    let planned = null;
    let planSeq = 0;
    let runningId = null;

    const showError = (error) => {
      const msg = error instanceof EngineError || error?.message ? error.message : String(error);
      alert.replaceChildren(el(doc, 'p', { text: msg }));
    };
    const clearError = () => alert.replaceChildren();

    const request = () => {
      const value = op.value;
      const options = {};
      let kind = value;
      if (value.startsWith('extract-')) {
        kind = 'extract';
        options.component = value.slice('extract-'.length);
      } else if (value === 'convert') {
        options.to = target.value;
        options.all = all.checked;
        if (QUANT_TARGETS.has(target.value) && exclude.value.trim() !== '') options.exclude = exclude.value.trim();
      } else {
        options.ema = ema.value;
        options.keepUnused = keepUnused.checked;
        options.fixPositionIds = fixPos.checked;
        options.positionIdsI64 = posI64.checked;
      }
      return { op: kind, options };
    };

    const selectedSink = () => sinks.selected();

    const renderPlan = (p) => {
      const lines = [];
      if (p.inputCensus) lines.push(el(doc, 'p', { text: `Input ${p.input}: ${formatBytes(p.inputBytes)}, ${formatCensus(p.inputCensus)}` }));
      if (p.convert?.format) {
        lines.push(el(doc, 'p', { text: `Quantizes ${p.convert.converted} layers to ${p.convert.format} (${p.convert.rule}); ${p.convert.high_precision ?? 0} eligible weights stay high precision.` }));
      } else if (p.convert) {
        lines.push(el(doc, 'p', { text: `Converts ${p.convert.converted} tensors (${p.convert.rule}); ${p.convert.kept} kept as they are.` }));
      }
      if (p.prune) {
        lines.push(el(doc, 'p', { text: `Drops ${p.prune.dropped_ema} EMA tensors, promotes ${p.prune.promoted_ema}, drops ${p.prune.dropped_unused} of ${p.prune.unused.length} unused keys.` }));
        for (const pid of p.prune.position_ids ?? []) {
          lines.push(el(doc, 'p', { text: `${pid.key} (${pid.dtype}): ${pid.broken?.length ?? 0} broken values, ${pid.action}.` }));
        }
      }
      const list = el(doc, 'ul', { className: 'ckpt-tools-outputs' });
      for (const o of p.outputs) {
        list.append(el(doc, 'li', { text: `Will write ${o.path}: ${formatBytes(o.bytes)} (${o.bytes.toLocaleString('en-US')} bytes), ${o.tensors} tensors: ${formatCensus(o.census)}` }));
      }
      lines.push(list);
      plan.replaceChildren(...lines);
    };

    const updateSinks = () => {
      const blobOK = planned ? planned.blobOK : current?.op !== 'convert';
      sinks.apply({ blobOK });
      sinks.render({ blobOK });
    };
    updateSinks();
    probeSinks().then((probed) => {
      Object.assign(caps, probed);
      updateSinks();
    }, () => {});

    // keepStatus: planning again after a run leaves its result on screen.
    const replan = async ({ keepStatus = false } = {}) => {
      if (!keepStatus) {
        // A new setup: the last run's progress and result go.
        progress.hide();
        root.dataset.toolsState = 'setup';
      }
      convertBox.hidden = op.value !== 'convert';
      pruneBox.hidden = op.value !== 'prune';
      current = request();
      planned = null;
      stats.lastPlan = null;
      run.disabled = true;
      plan.replaceChildren();
      updateSinks();
      if (!keepStatus) clearError();
      const f = file.files?.[0];
      if (!f) return;
      const seq = ++planSeq;
      if (!keepStatus) status.textContent = `Planning ${current.op} of ${f.name}…`;
      try {
        const p = await engine().request('opPlan', { op: current.op, options: current.options, file: f });
        if (seq !== planSeq) return;
        planned = p;
        stats.lastPlan = p;
        renderPlan(p);
        updateSinks();
        const noOp = noOpReason(p, current, f.name);
        run.disabled = noOp !== '';
        if (noOp) {
          plan.prepend(el(doc, 'p', { className: 'ckpt-tools-noop', dataset: { role: 'tools-noop' }, text: noOp }));
          if (!keepStatus) status.textContent = noOp;
        } else if (!keepStatus) {
          status.textContent = `Ready: ${p.outputs.length === 1 ? p.outputs[0].path : `${p.outputs.length} files`}, ${formatBytes(p.bytes)}.`;
        }
      } catch (error) {
        if (seq !== planSeq) return;
        if (!keepStatus) status.textContent = '';
        showError(error);
      }
    };

    for (const control of [file, op, target, all, ema, keepUnused, fixPos, posI64]) {
      control.addEventListener('change', () => replan());
    }

    const download = async (name, blob) => startDownload(doc, blob, name, urls);

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const f = file.files?.[0];
      if (!f || !planned) return;
      clearError();
      const sink = selectedSink();
      const fields = { op: current.op, options: current.options, file: f, sink };
      if (sink === 'file') {
        try {
          fields.fileHandles = [];
          for (const o of planned.outputs) {
            fields.fileHandles.push(await globalThis.showSaveFilePicker({ suggestedName: o.name }));
          }
        } catch (error) {
          if (error?.name !== 'AbortError') showError(error);
          return;
        }
      }
      run.disabled = true;
      progress.start(planned.bytes);
      status.textContent = 'Writing…';
      root.dataset.toolsState = 'running';
      const startedAt = performance.now();
      const job = engine().start('opRun', fields, {
        onProgress: (p) => progress.update(p),
      });
      runningId = job.id;
      try {
        const done = await job.result;
        stats.lastDone = done;
        if (done.sink === 'blob') {
          for (const o of done.blobOutputs) {
            const blob = new Blob(o.parts.map((part) => part.bytes ?? f.slice(part.start, part.end)));
            await download(o.name, blob);
          }
          status.textContent = `Done: handed ${done.blobOutputs.map((o) => o.name).join(', ')} to your browser's downloads; `
            + 'its downloads list shows the progress. Keep the input file unchanged until it finishes.';
        } else if (done.sink === 'opfs') {
          for (const o of done.outputs) await download(o.name, await opfsFile(o.path));
          status.textContent = `Done: saved ${done.outputs.map((o) => o.path).join(', ')} (${formatBytes(done.bytes)}) to browser storage; downloading.`;
        } else {
          status.textContent = `Done: saved ${done.outputs.map((o) => o.name).join(', ')} (${formatBytes(done.bytes)}).`;
        }
        progress.done(done.bytes ?? planned.bytes, (performance.now() - startedAt) / 1000);
        root.dataset.toolsState = 'done';
      } catch (error) {
        if (error instanceof EngineError && error.code === 'cancelled') {
          status.textContent = 'Cancelled: nothing was kept.';
          root.dataset.toolsState = 'cancelled';
        } else {
          status.textContent = '';
          showError(error);
          root.dataset.toolsState = 'failed';
        }
        progress.hide();
      } finally {
        runningId = null;
        // The counter of the next output changed: plan again.
        replan({ keepStatus: true });
      }
    });
  }

  return {
    element: root,
    stats,
    destroy() {
      for (const url of urls) URL.revokeObjectURL(url);
      if (ownClient && client) client.terminate();
      root.remove();
    },
  };
}
