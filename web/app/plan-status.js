// The saver's plan and what it says: the engine plans the output for the
// current files and options (a moment after each change, and once more on
// Save); the line above Save says what will be written and which metadata
// goes in, the alert lists every problem that still holds, the status next
// to Save says what is happening or what is missing.

import { el } from './dom.js';
import { architectureName, clipText, formatBytes } from './format.js';
import {
  blockingProblems, complete, errorText, folderOf, modelRequires, problemLocation, slotNote, SLOT_WANTED, SLOTS,
} from './saver-state.js';

/**
 * @param {object} ctx the saver's context (saver.js)
 * @returns {{render(): void, schedule(): void, run(): Promise<object|null>, set(planned: object|null): void,
 *   cancelTimer(): void, collectOptions(): Promise<object>, requestFiles(): object, canSave(): boolean,
 *   sinkProblem(plan: object|null, sink: string): string, optionsChanged(): void, dropFailedOutcome(): void}}
 */
export function mountPlanStatus(ctx) {
  const { doc, root, ui, state, options } = ctx;
  const h = (...args) => el(doc, ...args);
  const showMetadataFields = options.showMetadataFields ?? !options.metadataProvider;
  let planGeneration = 0;
  let planTimer = 0;

  // What metadata the planned header carries, under the plan line.
  const planMetadata = h('p', { class: 'ckpt-plan ckpt-plan-metadata', 'data-role': 'plan-metadata' });
  ui.plan.after(planMetadata);

  // ---- planning ----------------------------------------------------------------
  function requestFiles() {
    return {
      model: state.slots.model[0].file,
      clip: state.slots.clip.map((e) => e.file),
      vae: state.slots.vae[0]?.file,
    };
  }

  function schedule() {
    clearTimeout(planTimer);
    planGeneration += 1;
    if (state.engine !== 'ready' || !complete(state)) return;
    planTimer = setTimeout(() => run().catch(() => {}), 150);
  }

  /** The current plan, told to options.onPlan whenever it changes. */
  function set(planned) {
    if (planned === state.lastPlan) return;
    state.lastPlan = planned;
    try {
      options.onPlan?.(planned);
    } catch (error) {
      console.error('[ckptpack] onPlan failed', error);
    }
  }

  /** Plans the output with the current files and options; returns the reply (null when overtaken). */
  async function run() {
    const generation = ++planGeneration;
    const files = requestFiles();
    try {
      const opts = await collectOptions();
      const planned = await ctx.engine.request('plan', { ...files, options: opts });
      if (generation !== planGeneration) return null;
      state.planError = null;
      // Whether eps/v is the user's choice is the engine's call (fixed for
      // SD1.5 or SD3, selectable for a standalone SD2/SDXL model).
      state.predictionSelectable = opts.prediction !== 'auto' || planned.predictionChoice === true;
      ctx.stats.predictionSelectable = state.predictionSelectable;
      set(planned);
      // A plan that cannot go out as a direct download changes the
      // recommendation (sinks.js) while the user has not chosen.
      if (ctx.sinks.chosenBy === 'recommendation') ctx.sinks.apply(planned);
      return planned;
    } catch (error) {
      if (generation !== planGeneration) return null;
      set(null);
      state.planError = problemLocation(error) ?? { message: errorText(error) };
      throw error;
    } finally {
      if (generation === planGeneration) ctx.render();
    }
  }

  // ---- options ---------------------------------------------------------------------
  function jsonText(value, what) {
    if (value == null || value === '') return '';
    if (typeof value !== 'string') return JSON.stringify(value);
    try {
      JSON.parse(value);
    } catch (error) {
      throw new Error(`${what} is not valid JSON: ${error.message}`);
    }
    return value;
  }

  /** The save options (PROTOCOL.md "options") of the form as it is now. */
  async function collectOptions() {
    let prompt = '';
    let extraPnginfo = '';
    if (options.metadataProvider) {
      const provided = (await options.metadataProvider()) ?? {};
      prompt = jsonText(provided.prompt, 'The prompt');
      extraPnginfo = jsonText(provided.extraPnginfo, 'extra_pnginfo');
    }
    if (showMetadataFields) {
      if (ui.prompt.value.trim() !== '') prompt = jsonText(ui.prompt.value, 'The prompt');
      const workflowFile = ui.workflow.files?.[0];
      if (workflowFile) {
        const text = await workflowFile.text();
        let parsed;
        try {
          parsed = JSON.parse(text);
        } catch (error) {
          throw new Error(`${workflowFile.name} is not valid JSON: ${error.message}`);
        }
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
          throw new Error(`${workflowFile.name} is not a workflow: it must hold a JSON object.`);
        }
        // ComfyUI passes extra_pnginfo = {"workflow": <graph>}; keep the
        // file's own text so the worker re-encodes exactly what it holds.
        extraPnginfo = `{"workflow":${text}}`;
      }
    }
    const metadata = {};
    if (ui.title.value.trim()) metadata['modelspec.title'] = ui.title.value.trim();
    if (ui.author.value.trim()) metadata['modelspec.author'] = ui.author.value.trim();
    if (ui.description.value.trim()) metadata['modelspec.description'] = ui.description.value.trim();
    return {
      filenamePrefix: ui.prefix.value,
      prompt,
      extraPnginfo,
      disableMetadata: ui.disableMetadata.checked,
      metadata,
      prediction: ui.prediction.value,
      ...(ui.quantize?.value ? { quantize: ui.quantize.value } : {}),
      sha256: false,
      takenNames: [...state.takenNames],
      ...(await options.extraOptions?.()), // e.g. the metadata editor's {modelspec, hash}
    };
  }

  /** The outcome of a failed or cancelled save ends when the user changes something. */
  function dropFailedOutcome() {
    if (state.outcome && state.outcome.kind !== 'saved') state.outcome = null;
  }

  /**
   * An option changed: plan again. The last plan stays (and Save with it)
   * until the new one arrives: Save plans once more with the options of the
   * moment anyway, and a text field commits its change on blur, which a
   * click on Save causes, so turning Save off here would swallow that click.
   */
  function optionsChanged() {
    // A plan error stays listed until the new plan says otherwise.
    dropFailedOutcome();
    schedule();
    ctx.render();
  }

  // ---- what the plan says ---------------------------------------------------------------
  function freeBytes(plan) {
    const q = plan?.quota;
    // Chromium's estimate is a fixed usage + 10 GiB, not a limit: the
    // worker says so (limitKnown false), and a full disk fails on the write.
    if (q?.limitKnown === false) return NaN;
    return q && Number.isFinite(q.quota) && Number.isFinite(q.usage) ? Math.max(0, q.quota - q.usage) : NaN;
  }

  /** Why this plan cannot go to this sink, '' when it can. */
  function sinkProblem(plan, sink) {
    if (!plan) return '';
    const picker = ctx.caps.canPickFile ? '"Save to a file on disk" or ' : '';
    if (sink === 'blob' && plan.blobOK === false && plan.computed) {
      return `${plan.fileName} is quantized while saving: its weights are computed, which a direct download (slices of your files) cannot carry; `
        + `choose ${picker}browser storage.`;
    }
    if (sink === 'blob' && plan.blobOK === false) {
      return `${plan.fileName} needs ${formatBytes(plan.blobInline)} of computed data, too much for a direct download; `
        + `choose ${picker}browser storage.`;
    }
    if (sink === 'opfs' && plan.fits === false) {
      return `Not enough browser storage for ${plan.fileName}: it needs ${formatBytes(plan.bytes)}, and only `
        + `${formatBytes(freeBytes(plan))} is free. Delete saved checkpoints or choose another way to save.`;
    }
    return '';
  }

  /** The line above Save: what Save will write, and under which name. */
  function planText(plan, sink) {
    const what = `${architectureName(plan.architecture, modelRequires(state)?.title)} checkpoint, ${formatBytes(plan.bytes)}`;
    const folder = folderOf(plan.path);
    // A download has a name and no folder: <a download> (and the download
    // manager) drop everything up to the last "/".
    const noFolder = folder ? ` A download cannot keep the ${folder} folder, so the file is named ${plan.fileName}.` : '';
    if (sink === 'file') return `Will ask where to save ${plan.fileName}: ${what}.`;
    if (sink === 'blob') return `Will download ${plan.fileName}: ${what}.${noFolder}`;
    return `Will write ${plan.path || plan.fileName}: ${what}, into browser storage, then download it.${noFolder}`;
  }

  /** Which metadata the planned header carries, in words: "Metadata: title “ComfyUI 1”, author, thumbnail, prompt and workflow." */
  function metadataText(meta) {
    const named = [];
    const title = meta['modelspec.title'];
    if (title) named.push(`title “${clipText(title, 80)}”`);
    const fields = [['modelspec.author', 'author'], ['modelspec.description', 'description'], ['modelspec.thumbnail', 'thumbnail'],
      ['modelspec.license', 'license'], ['modelspec.tags', 'tags'], ['modelspec.trigger_phrase', 'trigger phrase'],
      ['modelspec.hash_sha256', 'SHA-256 hash'], ['prompt', 'prompt'], ['workflow', 'workflow']];
    for (const [key, words] of fields) if (meta[key]) named.push(words);
    // The prediction type (epsilon, v …) and the ModelSpec version by their
    // values: the raw key names say nothing to a newcomer.
    const predict = meta['modelspec.predict_key'];
    if (predict) named.push(`prediction type “${clipText(predict, 40)}”`);
    const spec = meta['modelspec.sai_model_spec'];
    if (spec) named.push(`ModelSpec ${clipText(spec, 20)}`);
    const known = new Set(['modelspec.title', 'modelspec.predict_key', 'modelspec.sai_model_spec', ...fields.map(([key]) => key)]);
    // The rest (format, modelspec.architecture …) by name while few.
    const others = Object.keys(meta).filter((key) => !known.has(key)).sort();
    if (others.length > 0 && others.length <= 3) named.push(...others);
    else if (others.length > 3) named.push(`${others.length} other keys`);
    if (named.length === 0) return 'Metadata: none.';
    const list = named.length > 1 ? `${named.slice(0, -1).join(', ')} and ${named.at(-1)}` : named[0];
    return `Metadata: ${list}.`;
  }

  function renderPlan() {
    const { lastPlan } = state;
    const sink = ctx.sinks.selected();
    ui.plan.textContent = lastPlan ? planText(lastPlan, sink) : '';
    planMetadata.textContent = lastPlan ? metadataText(lastPlan.metadata ?? {}) : '';
    planMetadata.hidden = !lastPlan;
    const meta = lastPlan?.metadata ?? {};
    ui.predictionField.hidden = !state.predictionSelectable && ui.prediction.value === 'auto';
    ui.title.placeholder = meta['modelspec.title'] ? `${meta['modelspec.title']} (as ComfyUI names it)` : '';
  }

  /** Everything the alert lists: the blocking problems, dropped files that fit no slot, a failed save. */
  function alertProblems() {
    const problems = [...blockingProblems(state), ...state.dropProblems];
    // A cancelled save is no problem: the status alone says so.
    if (state.outcome?.kind === 'failed') problems.push(state.outcome.message);
    return [...new Set(problems.filter(Boolean))];
  }

  function renderAlert() {
    const problems = alertProblems();
    // Unchanged text is not rewritten, so screen readers announce each
    // problem once.
    if (problems.join('\n') === [...ui.alert.children].map((p) => p.textContent).join('\n')) return;
    ui.alert.replaceChildren(...problems.map((text) => h('p', { text })));
  }

  /** The sentence next to Save when no save is running and none just ended. */
  function idleStatus() {
    if (state.engine === 'starting') return 'Starting the checkpoint engine…';
    if (state.engine === 'failed') return 'The checkpoint engine is not available.';
    if (state.reading) return `Reading ${state.reading}…`;
    const inspecting = SLOTS.flatMap((slot) => state.slots[slot]).find((e) => e.status === 'inspecting');
    if (inspecting) return `Reading ${inspecting.file.name}…`;
    const missing = SLOTS.filter((slot) => state.slots[slot].length === 0 && slotNote(state, slot) === '');
    if (missing.length === SLOTS.length) {
      return 'Add a diffusion model, text encoders and a VAE: drop the files anywhere here, or choose them above.';
    }
    if (blockingProblems(state).length) return 'Save is off until the problem above is fixed.';
    if (missing.length) {
      const wanted = missing.map((slot) => SLOT_WANTED[slot]);
      return `Still needed: ${wanted.length > 1 ? `${wanted.slice(0, -1).join(', ')} and ${wanted.at(-1)}` : wanted[0]}.`;
    }
    if (!state.lastPlan) return 'Checking that the files fit together…';
    const problem = sinkProblem(state.lastPlan, ctx.sinks.selected());
    if (problem) return problem;
    return 'Ready to save.';
  }

  function canSave() {
    // A plan for changed inputs or options first clears lastPlan; a re-plan
    // of the same ones (the counter after a save) keeps it, and Save plans
    // once more anyway.
    return state.engine === 'ready' && !state.activeSave && state.lastPlan !== null && complete(state)
      && blockingProblems(state).length === 0 && sinkProblem(state.lastPlan, ctx.sinks.selected()) === '';
  }

  /** The result of the last save, next to Save: its file name first. */
  function outcomeElement(outcome) {
    const box = h('div', { class: 'ckpt-result', 'data-role': 'result' });
    box.append(h('p', { class: 'ckpt-result-title', text: outcome.title }));
    for (const line of outcome.lines) box.append(h('p', { class: 'ckpt-result-line', text: line }));
    return box;
  }

  let lastStatus = '';
  function renderStatus() {
    const { activeSave, outcome } = state;
    let content;
    if (activeSave) content = activeSave.status;
    else if (outcome?.kind === 'saved') content = outcome;
    else content = outcome ? outcome.status : idleStatus();
    const key = typeof content === 'string' ? content : `${content.title}\n${content.lines.join('\n')}`;
    if (key === lastStatus) return;
    lastStatus = key;
    if (typeof content === 'string') ui.status.textContent = content;
    else ui.status.replaceChildren(outcomeElement(content));
    ui.status.classList.toggle('ckpt-status-done', typeof content !== 'string');
    ui.status.classList.toggle('ckpt-status-cancelled', !activeSave && outcome?.kind === 'cancelled');
    root.dataset.outcome = activeSave ? 'running' : outcome?.kind ?? 'none';
  }

  return {
    render() {
      renderPlan();
      renderAlert();
      renderStatus();
    },
    schedule,
    run,
    set,
    cancelTimer: () => clearTimeout(planTimer),
    collectOptions,
    requestFiles,
    canSave,
    sinkProblem,
    optionsChanged,
    dropFailedOutcome,
  };
}
