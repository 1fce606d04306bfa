// The saver's one state object, and what follows from it alone.
//
// Every part of the saver (slots.js, plan-status.js, save-run.js,
// saved-list.js, the sink choice and the progress box) reads this object and
// changes it, then asks for one render (saver.js), which redraws every part
// from it: Save is enabled only while the plan is valid, the alert lists
// every problem that still holds, the status says what is happening or what
// is missing.

import { EngineError } from './engine-client.js';

export const SLOTS = ['model', 'clip', 'vae'];
export const SLOT_LABELS = { model: 'Diffusion model', clip: 'Text encoders', vae: 'VAE' };
// What the status asks for while a slot is empty.
export const SLOT_WANTED = { model: 'a diffusion model', clip: 'text encoders', vae: 'a VAE' };

/**
 * @returns {{
 *   slots: {model: object[], clip: object[], vae: object[]},
 *   engine: 'starting'|'ready'|'failed', engineFailure: string,
 *   lastPlan: object|null, planError: {slot?: string, file?: string, message: string}|null,
 *   predictionSelectable: boolean,
 *   activeSave: {id: number, phase: 'picking'|'planning'|'writing'|'cancelling', status: string}|null,
 *   outcome: {kind: 'saved'|'failed'|'cancelled'}|null,
 *   dropProblems: string[], reading: string, takenNames: Set<string>}}
 *   slots: per slot, entries {file, status: 'inspecting'|'ok'|'bad', report, problem};
 *   lastPlan: the engine's planned reply for the current inputs and options;
 *   planError: the last plan's failure; outcome: the last save's;
 *   dropProblems: files of the last drop that fit no slot; reading: the
 *   file being read now; takenNames: output paths handed out by a download
 *   or a file on disk (they leave nothing in browser storage, so the engine
 *   is told and the next save's counter moves on).
 */
export function createSaverState() {
  return {
    slots: { model: [], clip: [], vae: [] },
    engine: 'starting',
    engineFailure: '',
    lastPlan: null,
    planError: null,
    predictionSelectable: false,
    activeSave: null,
    outcome: null,
    dropProblems: [],
    reading: '',
    takenNames: new Set(),
  };
}

/** What the model file's report says the model needs (pkg/checkpoint Requirements), or null. */
export function modelRequires(state) {
  const entry = state.slots.model[0];
  return entry?.status === 'ok' ? entry.report?.requires ?? null : null;
}

/**
 * The engine's sentence for a slot the model does not need ("This model has no VAE: …"
 * for a pixel-space model), '' when the slot is needed.
 */
export function slotNote(state, slot) {
  const requires = modelRequires(state);
  if (slot === 'vae') return requires?.vae_note ?? '';
  if (slot === 'clip') return requires?.text_encoder_note ?? '';
  return '';
}

/** Every needed slot holds files, and every file fits. */
export function complete(state) {
  return SLOTS.every((slot) => (state.slots[slot].length > 0 || slotNote(state, slot) !== '')
    && state.slots[slot].every((e) => e.status === 'ok'));
}

/** The problem shown on one file of a slot: its own, or the plan's about it. */
export function entryProblem(state, slot, entry) {
  if (entry.status === 'bad') return entry.problem;
  const { planError } = state;
  if (planError && planError.slot === slot && (!planError.file || planError.file === entry.file.name
    || planError.file.startsWith(`${entry.file.name}/`))) { // a file inside a folder item
    return planError.message;
  }
  return '';
}

/**
 * The problems that keep Save off: a file that does not fit its slot (it
 * stays listed until the file is replaced or removed), a plan the engine
 * refused, an engine that did not start.
 */
export function blockingProblems(state) {
  const problems = [];
  for (const slot of SLOTS) {
    for (const entry of state.slots[slot]) if (entry.status === 'bad') problems.push(entry.problem);
  }
  if (state.planError) problems.push(state.planError.message);
  if (state.engine === 'failed') problems.push(state.engineFailure);
  return [...new Set(problems.filter(Boolean))];
}

/** An error as the page says it: the slot as labelled on screen, the file named. */
export function errorText(error) {
  let message = error?.message ?? String(error);
  if (!(error instanceof EngineError)) return message;
  // The engine says "clip slot: …" (the CLI's words); the page names the
  // slot as it is labelled on screen.
  const slotPrefix = `${error.slot} slot: `;
  if (SLOT_LABELS[error.slot] && message.startsWith(slotPrefix)) {
    message = `${SLOT_LABELS[error.slot]}: ${message.slice(slotPrefix.length)}`;
  }
  if (error.file && !message.includes(error.file)) return `${error.file}: ${message}`;
  return message;
}

/**
 * Which slot (and file) an engine error is about: the worker says so in
 * its slot and file fields (the engine's checkpoint.SlotError).
 */
export function problemLocation(error) {
  if (!(error instanceof EngineError) || !SLOTS.includes(error.slot)) return null;
  return { slot: error.slot, file: error.file, message: errorText(error) };
}

/** The folder part of an output path ("checkpoints/"), '' for none. */
export function folderOf(path) {
  const cut = String(path ?? '').lastIndexOf('/');
  return cut > 0 ? path.slice(0, cut + 1) : '';
}
