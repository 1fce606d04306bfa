// ckptpack's ComfyUI frontend extension: a "Save Checkpoint" sidebar tab that
// assembles an all-in-one .safetensors checkpoint in this browser tab, streamed
// by the ckptpack WebAssembly worker, with the live workflow embedded the way
// ComfyUI's CheckpointSave node embeds it.
//
// This module adapts the site's saver UI to ComfyUI: it describes the tab,
// commands, a node-menu entry and settings, and hands mountSaver() the
// defaults and a metadata provider. Every call into ComfyUI goes through
// lib/comfy-host.mjs (the only module importing the frontend). The UI and
// the engine are the site's own files, shipped in lib/ next to this module
// and loaded relative to import.meta.url (ComfyUI serves this package at
// /extensions/<folder name>/, whatever the folder is called).
import { host, type HostSetting, type WorkflowSnapshot } from './lib/comfy-host.mjs'

// --- The saver UI's module API (web/app/saver.js of the site) --------------

/** Where the saver writes the checkpoint (the site's sink radio values). */
export type SinkKind = 'opfs' | 'file' | 'blob'

/** CheckpointSave's hidden inputs, as JSON text: prompt = the API prompt,
 * extraPnginfo = {"workflow": <graph>} (ComfyUI's extra_data.extra_pnginfo). */
export interface CheckpointMetadata {
  prompt: string
  extraPnginfo: string
}

/** The sink setting: a sink, or 'auto' for the one the saver recommends in this browser. */
export type SinkSetting = SinkKind | 'auto'

export interface SaverDefaults {
  filenamePrefix: string
  embedWorkflow: boolean
  sink: SinkSetting
}

/** The parts of the worker's `planned` reply (wasm/worker/PROTOCOL.md) this extension reads. */
export interface PlannedCheckpoint {
  bytes: number
  /** The output header's exact size, 8 + N. */
  headerBytes: number
  metadata: Record<string, string>
}

export interface SaverOptions {
  baseURL: string
  defaults: SaverDefaults
  metadataProvider?: () => Promise<CheckpointMetadata>
  showMetadataFields?: boolean
  /** Each plan of the current inputs and options; null when there is none. */
  onPlan?: (planned: PlannedCheckpoint | null) => void
  /** More save options (PROTOCOL.md "options"): the metadata editor's {modelspec, hash}. */
  extraOptions?: () => Promise<Record<string, unknown>>
  /** Each successful save's done reply. */
  onSaved?: (done: Record<string, unknown>) => void
}

/** What mountSaver returns (only the parts this extension uses). */
export interface SaverHandle {
  element: Element
  ready: Promise<unknown>
  readonly lastPlan: PlannedCheckpoint | null
  /** The saver's worker client, shared with the metadata editor. */
  readonly engine: unknown
  /** Plans again (the metadata editor's options changed). */
  optionsChanged(): void
  /** Applies changed settings to the form (only the fields given). */
  setDefaults(defaults: Partial<SaverDefaults>): void
  destroy(): void
}

interface SaverModule {
  mountSaver(container: HTMLElement, options: SaverOptions): SaverHandle
}

/** The site's Tools panel (web/app/tools.js): extract, convert, prune one file. */
interface ToolsModule {
  mountTools(container: HTMLElement, options: { baseURL: string }): { element: Element; destroy(): void }
}

/** What web/app/metadata-editor.js's mountMetadataEditor returns (the parts used here). */
interface MetadataEditorHandle {
  saveOptions(): Promise<Record<string, unknown>>
  noteSaved(done: Record<string, unknown>): void
}

interface MetadataEditorModule {
  mountMetadataEditor(container: HTMLElement, options: { engine: unknown; onChange?: () => void }): MetadataEditorHandle
}

// --- Names --------------------------------------------------------------

const EXTENSION_NAME = 'ckptpack.SaveCheckpoint'
const TAB_ID = 'ckptpack-save-checkpoint'
const TAB_TITLE = 'Save Checkpoint'
const OPEN_COMMAND_ID = 'ckptpack.OpenSaveCheckpoint'
const SAVE_WORKFLOW_MODELS_COMMAND_ID = 'ckptpack.SaveWorkflowModels'
const SAVE_WORKFLOW_MODELS_LABEL = "Save this workflow's models as one checkpoint"

const SETTING_FILENAME_PREFIX = 'ckptpack.FilenamePrefix'
const SETTING_EMBED_WORKFLOW = 'ckptpack.EmbedWorkflow'
const SETTING_SINK = 'ckptpack.Sink'

// CheckpointSave's filename_prefix default (comfy_extras/nodes_model_merging.py).
const DEFAULT_FILENAME_PREFIX = 'checkpoints/ComfyUI'
const SINK_SETTINGS: readonly SinkSetting[] = ['auto', 'opfs', 'file', 'blob']

// ComfyUI's model library shows __metadata__ only when the header JSON is at
// most 1 MiB (server.py /view_metadata -> comfy.utils.safetensors_header
// max_size=1024*1024). Dropping a .safetensors file on the canvas reads only
// the first 4 MiB, header length included (src/scripts/pnginfo.ts
// getLatentMetadata), so the header JSON must fit in 4 MiB - 8 bytes.
export const MODEL_LIBRARY_HEADER_LIMIT = 1024 * 1024
export const CANVAS_DROP_HEADER_LIMIT = 4 * 1024 * 1024 - 8
// The tensor index (names, dtypes, shapes, offsets) adds to the metadata:
// about 120 KiB for SD1.5, 230 KiB for SDXL, 180 KiB for Flux. This bound is
// used only before the engine has planned the header (planned.headerBytes).
export const TENSOR_INDEX_ALLOWANCE = 256 * 1024

// --- Metadata, as CheckpointSave writes it ------------------------------

/**
 * The length in bytes of value's JSON as Python's json.dumps writes it
 * (separators ", " and ": ", ensure_ascii: every non-ASCII UTF-16 unit as
 * \uXXXX), after that text is stored as a JSON string in the header (each " and
 * \ escaped once more). The engine re-encodes prompt and workflow exactly so
 * (save_checkpoint: metadata["prompt"] = json.dumps(prompt)).
 */
export function headerBytesOfPythonJSON(value: unknown): number {
  let bytes = 2 // the quotes around the header string
  const add = (ascii: string) => {
    for (let i = 0; i < ascii.length; i++) {
      const c = ascii.charCodeAt(i)
      bytes += c === 0x22 || c === 0x5c ? 2 : 1
    }
  }
  const walk = (v: unknown): void => {
    if (v === null || v === undefined || typeof v === 'function') {
      add('null')
    } else if (typeof v === 'string') {
      add('"')
      for (let i = 0; i < v.length; i++) {
        const c = v.charCodeAt(i)
        if (c === 0x22 || c === 0x5c) add('\\' + v[i]) // \" and \\
        else if (c === 0x0a || c === 0x0d || c === 0x09 || c === 0x08 || c === 0x0c) add('\\n')
        else if (c < 0x20 || c > 0x7e) add('\\u0000') // \uXXXX (Python's ESCAPE_ASCII: all but space..~)
        else bytes += 1
      }
      add('"')
    } else if (typeof v === 'number') {
      add(pythonNumberText(v))
    } else if (typeof v === 'boolean') {
      add(String(v))
    } else if (Array.isArray(v)) {
      add('[')
      v.forEach((item, i) => {
        if (i > 0) add(', ')
        walk(item)
      })
      add(']')
    } else if (typeof v === 'object') {
      const toJSON = (v as { toJSON?: () => unknown }).toJSON
      if (typeof toJSON === 'function') return walk(toJSON.call(v))
      add('{')
      let first = true
      for (const [key, item] of Object.entries(v as Record<string, unknown>)) {
        if (item === undefined || typeof item === 'function') continue // JSON.stringify drops them
        if (!first) add(', ')
        first = false
        walk(key)
        add(': ')
        walk(item)
      }
      add('}')
    }
  }
  walk(value)
  return bytes
}

/**
 * The text Python's json.dumps writes for a number that JSON.stringify wrote
 * as JavaScript does. Integer-looking JavaScript output stays an int. Other
 * values are floats, and Python's float repr has the same shortest digits but
 * switches to exponent form below 1e-4 and from 1e16 on, with at least two
 * exponent digits (repr(1e-07), JavaScript "1e-7").
 */
export function pythonNumberText(n: number): string {
  if (!Number.isFinite(n)) return 'null' // JSON.stringify writes null
  const js = String(n)
  if (/^-?\d+$/.test(js)) return js
  const [mantissa = '', exp = '0'] = n.toExponential().split('e')
  const e = Number(exp)
  const negative = mantissa.startsWith('-')
  const digits = mantissa.replace('-', '').replace('.', '')
  let text: string
  if (e < -4 || e >= 16) {
    const frac = digits.slice(1)
    text = `${digits[0]}${frac ? `.${frac}` : ''}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`
  } else if (e < 0) {
    text = `0.${'0'.repeat(-e - 1)}${digits}`
  } else {
    const whole = digits.slice(0, e + 1).padEnd(e + 1, '0')
    text = `${whole}.${digits.slice(e + 1) || '0'}`
  }
  return negative ? `-${text}` : text
}

/** The current graph and its API prompt, as a queued run would send them. */
async function snapshotWorkflow(): Promise<WorkflowSnapshot> {
  const snapshot = await host.snapshot()
  renderWorkflowModels(workflowModels(snapshot.prompt))
  return snapshot
}

async function currentCheckpointMetadata(): Promise<CheckpointMetadata> {
  const { workflow, prompt } = await snapshotWorkflow()
  reportMetadataSize(workflow, prompt)
  // The saver plans with what it was given last: that plan's header holds these sizes.
  providedSizes = lastSizes
  return { prompt: JSON.stringify(prompt), extraPnginfo: JSON.stringify({ workflow }) }
}

// --- Settings -------------------------------------------------------------

function readSetting<T>(id: string, fallback: T, valid: (v: unknown) => v is T): T {
  const value = host.getSetting(id)
  return valid(value) ? value : fallback
}

const isString = (v: unknown): v is string => typeof v === 'string'
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean'
const isSinkSetting = (v: unknown): v is SinkSetting => SINK_SETTINGS.includes(v as SinkSetting)

const prefixOrDefault = (prefix: string) => (prefix.trim() === '' ? DEFAULT_FILENAME_PREFIX : prefix.trim())

function currentDefaults(): SaverDefaults {
  return {
    filenamePrefix: prefixOrDefault(readSetting(SETTING_FILENAME_PREFIX, DEFAULT_FILENAME_PREFIX, isString)),
    embedWorkflow: readSetting(SETTING_EMBED_WORKFLOW, true, isBoolean),
    sink: readSetting(SETTING_SINK, 'auto', isSinkSetting),
  }
}

/**
 * A setting changed in ComfyUI's settings dialog: the open saver takes the new
 * value at once. The frontend calls onChange before it stores the value (and
 * once at registration, before any saver exists), so the value comes from
 * the call, not from the store. Only the changed field is applied, so what
 * the user typed into the other fields stays.
 */
function applySetting(changed: Partial<SaverDefaults>): void {
  if (!saverHandle) return
  saverHandle.setDefaults(changed)
  renderMetadataSize()
}

const SETTINGS_CATEGORY = 'Save Checkpoint'

const settings: HostSetting[] = [
  {
    id: SETTING_FILENAME_PREFIX,
    category: [SETTINGS_CATEGORY, 'Defaults', 'Filename prefix'],
    name: 'Default filename prefix',
    tooltip: 'Like the Save Checkpoint node: "checkpoints/ComfyUI" saves checkpoints/ComfyUI_00001_.safetensors.',
    type: 'text',
    defaultValue: DEFAULT_FILENAME_PREFIX,
    onChange: (value: unknown) => {
      if (isString(value)) applySetting({ filenamePrefix: prefixOrDefault(value) })
    },
  },
  {
    id: SETTING_EMBED_WORKFLOW,
    category: [SETTINGS_CATEGORY, 'Defaults', 'Embed workflow'],
    name: 'Embed the workflow and prompt in saved checkpoints',
    tooltip:
      'Off leaves "workflow" and "prompt" out of the file, like ComfyUI\'s --disable-metadata. Turn it off before sharing a checkpoint whose workflow you want to keep private.',
    type: 'boolean',
    defaultValue: true,
    onChange: (value: unknown) => {
      if (isBoolean(value)) applySetting({ embedWorkflow: value })
    },
  },
  {
    id: SETTING_SINK,
    category: [SETTINGS_CATEGORY, 'Defaults', 'Save to'],
    name: 'Save checkpoints to',
    type: 'combo',
    // 'auto' lets the saver pick per browser and model: the direct download,
    // the fastest where it can carry the model (README "Performance").
    options: [
      { text: 'The fastest this browser offers', value: 'auto' },
      { text: 'Browser storage, then download', value: 'opfs' },
      { text: 'A file on disk (asks where)', value: 'file' },
      { text: 'Download directly', value: 'blob' },
    ],
    defaultValue: 'auto',
    onChange: (value: unknown) => {
      if (isSinkSetting(value)) applySetting({ sink: value })
    },
  },
]

// --- The panel ------------------------------------------------------------

/** Resolves a file shipped in this package: never against the page's origin root. */
const packageURL = (path: string) => new URL(path, import.meta.url).href

let panel: HTMLElement | null = null
let sizeNote: HTMLElement | null = null
let mounting: Promise<void> | null = null
let saverReady: Promise<unknown> = Promise.resolve()
let saverHandle: SaverHandle | null = null

function loadStylesheet(doc: Document, href: string): void {
  if (doc.querySelector(`link[rel="stylesheet"][href="${href}"]`)) return
  const link = doc.createElement('link')
  link.rel = 'stylesheet'
  link.href = href
  doc.head.append(link)
}

/**
 * Builds the panel once. ComfyUI calls render() each time the tab is shown
 * and destroy() when it is hidden; the panel (and a save in progress) lives on
 * in between, so switching tabs never cancels a save.
 */
function ensurePanel(doc: Document): HTMLElement {
  if (panel) return panel
  panel = doc.createElement('div')
  panel.className = 'ckptpack-comfy'
  const intro = doc.createElement('p')
  intro.className = 'ckptpack-comfy-intro'
  intro.textContent =
    'Assembles a checkpoint from separate model files in this browser tab, streamed, like the Save Checkpoint node but without loading the model into memory.'
  sizeNote = doc.createElement('p')
  sizeNote.className = 'ckptpack-comfy-metadata-size'
  sizeNote.setAttribute('role', 'status')
  sizeNote.dataset.role = 'metadata-size'
  // The files the open workflow loads, matched against the picked ones.
  workflowSection = doc.createElement('section')
  workflowSection.className = 'ckptpack-comfy-workflow'
  workflowSection.dataset.role = 'workflow-models'
  workflowSection.setAttribute('aria-label', "This workflow's models")
  workflowSection.hidden = true
  const saverHost = doc.createElement('div')
  saverHost.className = 'ckptpack-comfy-saver'
  // Below the saver: the ModelSpec editor, then the Tools panel (extract a
  // component as ModelSave, CLIPSave or VAESave write it, convert precision,
  // prune), same engine.
  const editorHost = doc.createElement('div')
  editorHost.className = 'ckptpack-comfy-metadata-editor'
  const toolsHost = doc.createElement('div')
  toolsHost.className = 'ckptpack-comfy-tools'
  panel.append(intro, workflowSection, sizeNote, saverHost, editorHost, toolsHost)

  // The saver links its own stylesheet (lib/style.css).
  loadStylesheet(doc, packageURL('./lib/ckptpack-comfy.css'))
  // ComfyUI's document-level drop handler loads the workflow embedded in a
  // dropped .safetensors file, replacing the open graph (app.ts drop ->
  // handleFile). Files dropped on this panel are the saver's inputs: the
  // saver has handled them by the time the event bubbles up to here.
  const stopFileDrop = (event: DragEvent) => {
    if (event.dataTransfer?.types.includes('Files')) event.stopPropagation()
  }
  panel.addEventListener('dragover', stopFileDrop)
  panel.addEventListener('drop', stopFileDrop)
  mounting = mountInto(saverHost, editorHost, toolsHost).catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err)
    const alert = doc.createElement('p')
    alert.className = 'ckptpack-comfy-error'
    alert.setAttribute('role', 'alert')
    alert.textContent = `The checkpoint saver could not load from ${packageURL('./lib/')}: ${message}`
    saverHost.replaceChildren(alert)
    host.toast('error', 'Save Checkpoint could not load', message, 0)
    console.error('[ckptpack]', err)
  })
  return panel
}

async function mountInto(saverHost: HTMLElement, editorHost: HTMLElement, toolsHost: HTMLElement): Promise<void> {
  const saver = (await import(packageURL('./lib/app/saver.mjs'))) as SaverModule
  let editor: MetadataEditorHandle | null = null
  const handle = saver.mountSaver(saverHost, {
    extraOptions: async () => (editor ? editor.saveOptions() : {}),
    onSaved: (done) => {
      editor?.noteSaved(done)
      const name = typeof done.path === 'string' && done.path ? done.path : String(done.name ?? 'the checkpoint')
      const where = done.sink === 'file' ? 'written to the file you chose' : done.sink === 'opfs' ? 'in browser storage; its download has started' : 'its download has started'
      host.toast('success', 'Checkpoint saved', `${name}: ${where}.`)
    },
    baseURL: packageURL('./lib/'),
    defaults: currentDefaults(),
    metadataProvider: currentCheckpointMetadata,
    showMetadataFields: false,
    onPlan: (planned) => {
      planBasis = planned ? headerBasis(planned) : null
      renderMetadataSize()
    },
  })
  saverHandle = handle
  watchPickedFiles(handle.element)
  renderWorkflowModels(currentModels)
  // The ModelSpec editor (title, thumbnail, hash …) for this save or for an
  // existing file, on the saver's worker.
  const editorModule = (await import(packageURL('./lib/app/metadata-editor.mjs'))) as MetadataEditorModule
  // Its changes are part of the saver's plan: Save stays on only while valid.
  editor = editorModule.mountMetadataEditor(editorHost, { engine: handle.engine, onChange: () => handle.optionsChanged() })
  // The "leave out prompt and workflow" checkbox (the saver shows it outside
  // its Metadata section, given a metadataProvider): keep the size note in
  // step with it.
  const checkbox = handle.element.querySelector('input[data-role="disable-metadata"]')
  if (checkbox instanceof HTMLInputElement) {
    leaveOutCheckbox = checkbox
    checkbox.addEventListener('change', renderMetadataSize)
    renderMetadataSize()
  }
  // A worker that fails to start is reported inside the saver itself.
  saverReady = handle.ready
  // The tools start their own worker on first use, so they cost nothing
  // until a file is picked there.
  const tools = (await import(packageURL('./lib/app/tools.mjs'))) as ToolsModule
  tools.mountTools(toolsHost, { baseURL: packageURL('./lib/') })
}

interface MetadataSizes {
  workflowBytes: number
  promptBytes: number
}

/** Sizes of the last workflow/prompt snapshot, in header bytes. */
let lastSizes: MetadataSizes | null = null
/** The sizes last handed to the saver (what its next plan embeds). */
let providedSizes: MetadataSizes | null = null
/**
 * The last plan's exact header size, and how many of its bytes were the
 * embedded workflow and prompt: the rest (tensor index, other metadata) stays
 * the same while only the graph changes.
 */
let planBasis: { headerBytes: number; metadataBytes: number } | null = null
/** The saver's "Leave out prompt and workflow" checkbox, once mounted. */
let leaveOutCheckbox: HTMLInputElement | null = null

function reportMetadataSize(workflow: unknown, prompt: unknown): void {
  lastSizes = { workflowBytes: headerBytesOfPythonJSON(workflow), promptBytes: headerBytesOfPythonJSON(prompt) }
  renderMetadataSize()
}

/** metadata["workflow"] and metadata["prompt"] in a header, keys and separators included. */
function embeddedBytes(sizes: MetadataSizes): number {
  return headerBytesOfPythonJSON('workflow') + sizes.workflowBytes + headerBytesOfPythonJSON('prompt') + sizes.promptBytes + 4
}

function headerBasis(planned: PlannedCheckpoint): { headerBytes: number; metadataBytes: number } | null {
  if (typeof planned.headerBytes !== 'number') return null // an engine older than headerBytes
  const embedded = 'workflow' in (planned.metadata ?? {}) && providedSizes
  return { headerBytes: planned.headerBytes, metadataBytes: embedded ? embeddedBytes(providedSizes!) : 0 }
}

/**
 * The output header's size: the plan's exact headerBytes when it embeds
 * what would be embedded now; with a changed graph, that plan's size with
 * the new workflow and prompt in place of its own (exact but for the
 * header's alignment padding, under 8 bytes); before any plan, the
 * workflow and prompt plus TENSOR_INDEX_ALLOWANCE.
 */
function headerSize(metadataBytes: number): { bytes: number; exact: boolean } {
  if (planBasis) {
    const exact = planBasis.metadataBytes === metadataBytes
    return { bytes: planBasis.headerBytes - planBasis.metadataBytes + metadataBytes, exact }
  }
  return { bytes: metadataBytes + TENSOR_INDEX_ALLOWANCE, exact: false }
}

function renderMetadataSize(): void {
  if (!sizeNote || !lastSizes) return
  const doc = sizeNote.ownerDocument
  const { workflowBytes, promptBytes } = lastSizes
  // The exact sizes of the two header string values, for tests and curious users.
  sizeNote.dataset.workflowBytes = String(workflowBytes)
  sizeNote.dataset.promptBytes = String(promptBytes)
  const leftOut = leaveOutCheckbox?.checked ?? false
  const bytes = leftOut ? 0 : embeddedBytes(lastSizes)
  const header = headerSize(bytes)
  sizeNote.dataset.headerBytes = String(header.bytes)
  sizeNote.dataset.headerExact = String(header.exact)
  if (leftOut) {
    sizeNote.textContent = 'The workflow and its prompt will not be embedded in the checkpoint.'
    return
  }
  const kib = (n: number) => `${Math.ceil(n / 1024).toLocaleString('en-US')} KiB`
  const size = `${header.exact ? '' : 'about '}${kib(header.bytes)}`
  const line = doc.createElement('span')
  line.textContent = `The workflow and its prompt add ${kib(bytes)} to the checkpoint's header.`
  const parts: Node[] = [line]
  // Both limits are on N, the header JSON after the 8-byte length.
  const json = header.bytes - 8
  if (json > CANVAS_DROP_HEADER_LIMIT) {
    const warn = doc.createElement('strong')
    warn.className = 'ckptpack-comfy-warning'
    warn.dataset.role = 'metadata-too-big'
    warn.textContent =
      ` Warning: the header would be ${size}, over 4 MiB, so dropping the saved checkpoint on the ComfyUI canvas will not load this workflow (ComfyUI reads only a file's first 4 MiB). Tick "Leave out prompt and workflow", or make the workflow smaller.`
    parts.push(warn)
  } else if (json > MODEL_LIBRARY_HEADER_LIMIT) {
    const note = doc.createElement('span')
    note.className = 'ckptpack-comfy-note'
    note.dataset.role = 'metadata-over-library-limit'
    note.textContent =
      ` The header will be ${size}, over 1 MiB: ComfyUI's model library will not show this checkpoint's metadata (dropping the file on the canvas still loads the workflow).`
    parts.push(note)
  }
  sizeNote.replaceChildren(...parts)
}

async function refreshMetadataSize(): Promise<void> {
  try {
    const { workflow, prompt } = await snapshotWorkflow()
    reportMetadataSize(workflow, prompt)
  } catch (err) {
    console.warn('[ckptpack] could not read the current workflow', err)
  }
}

let refreshTimer: ReturnType<typeof setTimeout> | undefined
function scheduleMetadataRefresh(): void {
  if (!panel?.isConnected) return
  clearTimeout(refreshTimer)
  refreshTimer = setTimeout(() => void refreshMetadataSize(), 500)
}

// --- The workflow's model files ------------------------------------------

/** Which saver slot a loader's file goes into. */
export type Slot = 'model' | 'clip' | 'vae'

/** A model file the workflow loads: the loader node, its widget and the file name. */
export interface WorkflowModel {
  nodeId: string
  nodeType: string
  input: string
  file: string
  /** null: a whole checkpoint (CheckpointLoaderSimple), already all in one. */
  slot: Slot | null
}

/** Loader nodes and the inputs (widgets) naming their files, as nodes.py defines them. */
export const LOADER_INPUTS: Readonly<Record<string, { slot: Slot | null; inputs: readonly string[] }>> = {
  CheckpointLoaderSimple: { slot: null, inputs: ['ckpt_name'] },
  UNETLoader: { slot: 'model', inputs: ['unet_name'] },
  CLIPLoader: { slot: 'clip', inputs: ['clip_name'] },
  DualCLIPLoader: { slot: 'clip', inputs: ['clip_name1', 'clip_name2'] },
  TripleCLIPLoader: { slot: 'clip', inputs: ['clip_name1', 'clip_name2', 'clip_name3'] },
  VAELoader: { slot: 'vae', inputs: ['vae_name'] },
}

/**
 * The files the workflow's loader nodes load, read from its API prompt: what a
 * queued run would load (muted and bypassed nodes are not in it, subgraphs
 * are flattened into it), in node order, each file once.
 */
export function workflowModels(prompt: WorkflowSnapshot['prompt']): WorkflowModel[] {
  const found: WorkflowModel[] = []
  const ids = Object.keys(prompt ?? {}).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
  for (const nodeId of ids) {
    const node = prompt[nodeId]
    const loader = node?.class_type ? LOADER_INPUTS[node.class_type] : undefined
    if (!loader || !node?.class_type) continue
    for (const input of loader.inputs) {
      const file = node.inputs?.[input]
      // A linked input is [nodeId, slot], not a file name.
      if (typeof file !== 'string' || file === '') continue
      if (found.some((m) => m.file === file && m.slot === loader.slot)) continue
      found.push({ nodeId, nodeType: node.class_type, input, file, slot: loader.slot })
    }
  }
  return found
}

/** A model folder path as the workflow names it ("sub/clip_l.safetensors") to the picked file's name. */
const baseName = (name: string) => name.split(/[\\/]/).pop() ?? name

const SLOT_TITLES: Record<Slot, string> = { model: 'Diffusion model', clip: 'Text encoders', vae: 'VAE' }

let workflowSection: HTMLElement | null = null
let currentModels: WorkflowModel[] = []

/** The names picked in a saver slot (the saver lists each as .ckpt-file-name). */
function pickedNames(slot: Slot): string[] {
  const section = saverHandle?.element.querySelector(`[data-slot="${slot}"] [data-role="files"]`)
  return section ? [...section.querySelectorAll('.ckpt-file-name')].map((el) => el.textContent ?? '') : []
}

function renderWorkflowModels(models: WorkflowModel[]): void {
  currentModels = models
  if (!workflowSection) return
  const doc = workflowSection.ownerDocument
  const el = <K extends keyof HTMLElementTagNameMap>(tag: K, text?: string) => {
    const node = doc.createElement(tag)
    if (text !== undefined) node.textContent = text
    return node
  }
  workflowSection.hidden = models.length === 0
  const summary = el('p')
  summary.dataset.role = 'workflow-uses'
  summary.textContent = `This workflow uses ${models.map((m) => baseName(m.file)).join(', ')}.`
  const list = el('ul')
  list.className = 'ckptpack-comfy-workflow-slots'
  for (const model of models) {
    const item = el('li')
    item.dataset.model = model.file
    item.dataset.slot = model.slot ?? 'checkpoint'
    if (model.slot === null) {
      item.dataset.state = 'checkpoint'
      item.textContent = `${baseName(model.file)} is already an all-in-one checkpoint (${model.nodeType}).`
    } else {
      const picked = pickedNames(model.slot)
      const matched = picked.includes(baseName(model.file))
      item.dataset.state = matched ? 'picked' : picked.length ? 'other' : 'missing'
      const state = matched ? 'picked' : picked.length ? `picked: ${picked.join(', ')} (not this file)` : 'not picked yet'
      item.textContent = `${SLOT_TITLES[model.slot]}: ${baseName(model.file)} — ${state}`
    }
    list.append(item)
  }
  workflowSection.replaceChildren(summary, list)
  // Name the saver's slots after the files this workflow loads.
  for (const slot of ['model', 'clip', 'vae'] as const) {
    const section = saverHandle?.element.querySelector(`[data-slot="${slot}"]`)
    if (!section) continue
    let hint = section.querySelector<HTMLElement>('.ckptpack-comfy-slot-hint')
    const files = models.filter((m) => m.slot === slot).map((m) => baseName(m.file))
    if (!files.length) {
      hint?.remove()
      continue
    }
    if (!hint) {
      hint = el('p')
      hint.className = 'ckptpack-comfy-slot-hint'
      hint.dataset.role = 'slot-hint'
      section.querySelector('.ckpt-slot-title')?.after(hint)
    }
    hint.textContent = `This workflow: ${files.join(', ')}`
  }
}

/** Re-renders the matches when the saver's picked files change. */
function watchPickedFiles(saverElement: Element): void {
  const slots = saverElement.querySelectorAll('[data-slot] [data-role="files"]')
  const observer = new MutationObserver(() => renderWorkflowModels(currentModels))
  for (const files of slots) observer.observe(files, { childList: true, subtree: true, characterData: true })
}

// --- Tab, commands, registration -------------------------------------------

function openTab(): void {
  host.openSidebarTab(TAB_ID, panel?.isConnected ?? false)
  panel?.scrollIntoView({ block: 'nearest' })
}

/** Opens the tab at the workflow's model list, its slots named (the command and node-menu entry). */
async function saveWorkflowModels(): Promise<void> {
  openTab()
  const { prompt } = await snapshotWorkflow()
  const models = workflowModels(prompt).filter((m) => m.slot !== null)
  if (!models.length) {
    host.toast('info', SAVE_WORKFLOW_MODELS_LABEL, 'This workflow loads no separate diffusion model, text encoder or VAE file (UNETLoader, CLIPLoader, DualCLIPLoader, TripleCLIPLoader, VAELoader): pick the files in the tab.')
    return
  }
  await mounting
  workflowSection?.scrollIntoView({ block: 'nearest' })
}

function onGraphChanged(): void {
  scheduleMetadataRefresh()
}

host.register({
  name: EXTENSION_NAME,
  settings,
  commands: [
    {
      id: OPEN_COMMAND_ID,
      label: 'Save Checkpoint (in the browser)…',
      menubarLabel: 'Save Checkpoint…',
      icon: 'pi pi-save',
      tooltip: 'Open the Save Checkpoint sidebar tab',
      run: openTab,
    },
    {
      id: SAVE_WORKFLOW_MODELS_COMMAND_ID,
      label: `${SAVE_WORKFLOW_MODELS_LABEL}…`,
      icon: 'pi pi-save',
      tooltip: 'Open the Save Checkpoint tab with the files this workflow loads named in its slots',
      run: () => void saveWorkflowModels(),
    },
  ],
  menuPath: ['Extensions', 'ckptpack'],
  sidebarTab: {
    id: TAB_ID,
    title: TAB_TITLE,
    icon: 'pi pi-save',
    tooltip: 'Save Checkpoint: build an all-in-one checkpoint in the browser, with this workflow embedded',
    label: 'Checkpoint',
    render(container: HTMLElement) {
      container.append(ensurePanel(container.ownerDocument))
      void refreshMetadataSize()
    },
    hide() {
      panel?.remove()
    },
  },
  nodeMenu: [{ nodeTypes: Object.keys(LOADER_INPUTS), label: SAVE_WORKFLOW_MODELS_LABEL, run: () => void saveWorkflowModels() }],
  onGraphChanged,
})

/** For tests and the console: settles once the saver has mounted and its engine has started (or failed to). */
export async function saverSettled(): Promise<void> {
  await mounting
  await saverReady.catch(() => {})
}
