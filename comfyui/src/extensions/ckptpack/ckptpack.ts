// ckptpack's ComfyUI frontend extension: a "Save Checkpoint" sidebar tab that
// assembles an all-in-one .safetensors checkpoint in this browser tab, streamed
// by the ckptpack WebAssembly worker, with the live workflow embedded the way
// ComfyUI's CheckpointSave node embeds it.
//
// This module only adapts ComfyUI to the site's saver UI: it registers the tab,
// a command, a menu entry and settings, and hands mountSaver() the defaults and
// a metadata provider. The UI and the engine are the site's own files, shipped
// in lib/ next to this module and loaded relative to import.meta.url (ComfyUI
// serves this package at /extensions/<folder name>/, whatever the folder is
// called).
import { app } from '../../scripts/app.js'
import type { ComfyExtension, ExtensionManager } from '@comfyorg/comfyui-frontend-types'

type ComfyCommand = NonNullable<ComfyExtension['commands']>[number]
type SettingParams = NonNullable<ComfyExtension['settings']>[number]
type SidebarTab = Parameters<ExtensionManager['registerSidebarTab']>[0]

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
// sidebarTabStore.registerSidebarTab registers this toggle command for every
// tab (ComfyUI_frontend src/stores/workspace/sidebarTabStore.ts).
const TOGGLE_TAB_COMMAND_ID = `Workspace.ToggleSidebarTab.${TAB_ID}`

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
async function snapshotWorkflow(): Promise<{ workflow: unknown; prompt: unknown }> {
  // app.queuePrompt sends graphToPrompt()'s workflow as
  // extra_data.extra_pnginfo.workflow and its output as the prompt
  // (src/scripts/api.ts queuePrompt); CheckpointSave receives exactly those.
  const { workflow, output } = await app.graphToPrompt()
  return { workflow, prompt: output }
}

async function currentCheckpointMetadata(): Promise<CheckpointMetadata> {
  const { workflow, prompt } = await snapshotWorkflow()
  reportMetadataSize(workflow, prompt)
  // The saver plans with what it was given last: that plan's header holds these sizes.
  providedSizes = lastSizes
  return { prompt: JSON.stringify(prompt), extraPnginfo: JSON.stringify({ workflow }) }
}

// --- Settings -------------------------------------------------------------

// The frontend's Settings type lists only the core settings, but the setting
// store accepts any id an extension registers (settingStore.addSetting).
type SettingId = SettingParams['id']
const settingId = (id: string) => id as SettingId

function readSetting<T>(id: string, fallback: T, valid: (v: unknown) => v is T): T {
  let value: unknown
  try {
    const manager = app.extensionManager
    // extensionManager.setting is the current API; frontends before it only
    // had the (now deprecated) settings dialog's getSettingValue.
    value = manager?.setting
      ? manager.setting.get<T>(id)
      : app.ui?.settings?.getSettingValue(settingId(id))
  } catch {
    value = undefined
  }
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

const settings: SettingParams[] = [
  {
    id: settingId(SETTING_FILENAME_PREFIX),
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
    id: settingId(SETTING_EMBED_WORKFLOW),
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
    id: settingId(SETTING_SINK),
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
  const saverHost = doc.createElement('div')
  saverHost.className = 'ckptpack-comfy-saver'
  // Below the saver: the ModelSpec editor, then the Tools panel (extract a
  // component as ModelSave, CLIPSave or VAESave write it, convert precision,
  // prune), same engine.
  const editorHost = doc.createElement('div')
  editorHost.className = 'ckptpack-comfy-metadata-editor'
  const toolsHost = doc.createElement('div')
  toolsHost.className = 'ckptpack-comfy-tools'
  panel.append(intro, sizeNote, saverHost, editorHost, toolsHost)

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
    console.error('[ckptpack]', err)
  })
  return panel
}

async function mountInto(host: HTMLElement, editorHost: HTMLElement, toolsHost: HTMLElement): Promise<void> {
  const saver = (await import(packageURL('./lib/app/saver.mjs'))) as SaverModule
  let editor: MetadataEditorHandle | null = null
  const handle = saver.mountSaver(host, {
    extraOptions: async () => (editor ? editor.saveOptions() : {}),
    onSaved: (done) => editor?.noteSaved(done),
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

const sidebarTab: SidebarTab = {
  id: TAB_ID,
  title: TAB_TITLE,
  icon: 'pi pi-save',
  tooltip: 'Save Checkpoint: build an all-in-one checkpoint in the browser, with this workflow embedded',
  label: 'Checkpoint',
  type: 'custom',
  render(container: HTMLElement) {
    container.append(ensurePanel(container.ownerDocument))
    void refreshMetadataSize()
  },
  destroy() {
    panel?.remove()
  },
}

function openTab(): void {
  if (panel?.isConnected) {
    panel.scrollIntoView({ block: 'nearest' })
    return
  }
  app.extensionManager.command.execute(TOGGLE_TAB_COMMAND_ID)
}

const openCommand: ComfyCommand = {
  id: OPEN_COMMAND_ID,
  label: 'Save Checkpoint (in the browser)…',
  menubarLabel: 'Save Checkpoint…',
  icon: 'pi pi-save',
  tooltip: 'Open the Save Checkpoint sidebar tab',
  function: openTab,
}

const extension: ComfyExtension = {
  name: EXTENSION_NAME,
  commands: [openCommand],
  menuCommands: [{ path: ['Extensions', 'ckptpack'], commands: [OPEN_COMMAND_ID] }],
  settings,
  setup() {
    const manager = app.extensionManager
    if (typeof manager?.registerSidebarTab !== 'function') {
      console.error(
        '[ckptpack] This ComfyUI frontend has no sidebar tab API (extensionManager.registerSidebarTab, frontend 1.3 or newer); the Save Checkpoint tab is not available.',
      )
      return
    }
    manager.registerSidebarTab(sidebarTab)
    app.api?.addEventListener('graphChanged', scheduleMetadataRefresh)
  },
}

app.registerExtension(extension)

/** For tests and the console: settles once the saver has mounted and its engine has started (or failed to). */
export async function saverSettled(): Promise<void> {
  await mounting
  await saverReady.catch(() => {})
}
