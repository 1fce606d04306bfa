// Everything the extension asks of the ComfyUI frontend, in one module: the
// only place that imports the frontend (scripts/app.js) or touches its
// objects. ckptpack.ts speaks to ComfyUI only through the Host below, so
// moving to the v2 extension API (@comfyorg/extension-api) is a new
// implementation of this file, not a change across the extension.
//
// Shipped as lib/comfy-host.mjs next to the entry (not .js: ComfyUI imports
// every .js file of a package's web folder). From /extensions/<pkg>/lib/,
// the frontend's shim is ../../../scripts/app.js; in src/ that path is
// src/scripts/app.d.ts.
import { app } from '../../../scripts/app.js'
import type { ComfyExtension, ExtensionManager } from '@comfyorg/comfyui-frontend-types'

type ComfyCommand = NonNullable<ComfyExtension['commands']>[number]
type SettingParams = NonNullable<ComfyExtension['settings']>[number]
type SidebarTab = Parameters<ExtensionManager['registerSidebarTab']>[0]

/** A setting the extension registers (shown in ComfyUI's settings dialog). */
export interface HostSetting {
  id: string
  /** The settings dialog's category path: [section, group, label]. */
  category: [string, string, string]
  name: string
  tooltip?: string
  type: 'text' | 'boolean' | 'combo'
  defaultValue: string | boolean
  options?: { text: string; value: string }[]
  /** Called with the new value when the user changes it (before it is stored). */
  onChange(value: unknown): void
}

export interface HostCommand {
  id: string
  label: string
  menubarLabel?: string
  icon: string
  tooltip: string
  run(): void
}

export interface HostSidebarTab {
  id: string
  title: string
  label: string
  icon: string
  tooltip: string
  /** Each time the tab is shown, into a fresh container. */
  render(container: HTMLElement): void
  /** When the tab is hidden. */
  hide(): void
}

/** A node-menu entry, offered on nodes whose type is listed. */
export interface HostNodeMenuEntry {
  nodeTypes: readonly string[]
  label: string
  run(nodeType: string): void
}

export interface HostExtension {
  name: string
  settings: HostSetting[]
  commands: HostCommand[]
  /** Where the commands appear in the top menu. */
  menuPath: string[]
  sidebarTab: HostSidebarTab
  nodeMenu: HostNodeMenuEntry[]
  /** The graph was edited, or another workflow was opened. */
  onGraphChanged(): void
}

export interface WorkflowSnapshot {
  /** The graph, as a queued run sends it in extra_data.extra_pnginfo.workflow. */
  workflow: unknown
  /** The API prompt of that run: node id -> {class_type, inputs}. */
  prompt: Record<string, { class_type?: string; inputs?: Record<string, unknown> }>
}

export type ToastSeverity = 'success' | 'info' | 'warn' | 'error'

// The frontend's Settings type lists only core ids; the store accepts any id
// an extension registers (settingStore.addSetting).
type SettingId = SettingParams['id']
const settingId = (id: string) => id as SettingId

/** ComfyUI_frontend sidebarTabStore registers this toggle command for every tab. */
const toggleTabCommand = (tabId: string) => `Workspace.ToggleSidebarTab.${tabId}`

export const host = {
  /** Registers the extension: settings, commands and menu now, the tab in setup(). */
  register(ext: HostExtension): void {
    const commands: ComfyCommand[] = ext.commands.map((c) => ({
      id: c.id,
      label: c.label,
      ...(c.menubarLabel ? { menubarLabel: c.menubarLabel } : {}),
      icon: c.icon,
      tooltip: c.tooltip,
      function: () => c.run(),
    }))
    const settings: SettingParams[] = ext.settings.map((s) => ({
      id: settingId(s.id),
      category: s.category,
      name: s.name,
      ...(s.tooltip ? { tooltip: s.tooltip } : {}),
      type: s.type,
      defaultValue: s.defaultValue,
      ...(s.options ? { options: s.options } : {}),
      onChange: (value: unknown) => s.onChange(value),
    }))
    const tab: SidebarTab = {
      id: ext.sidebarTab.id,
      title: ext.sidebarTab.title,
      icon: ext.sidebarTab.icon,
      tooltip: ext.sidebarTab.tooltip,
      label: ext.sidebarTab.label,
      type: 'custom',
      render: (container: HTMLElement) => ext.sidebarTab.render(container),
      destroy: () => ext.sidebarTab.hide(),
    }
    const extension: ComfyExtension = {
      name: ext.name,
      commands,
      menuCommands: [{ path: ext.menuPath, commands: ext.commands.map((c) => c.id) }],
      settings,
      // The node context menu API (frontend 1.28+); older frontends ignore it.
      getNodeMenuItems(node) {
        const type = node.comfyClass ?? node.type
        return ext.nodeMenu
          .filter((entry) => entry.nodeTypes.includes(type))
          .map((entry) => ({ content: entry.label, callback: () => entry.run(type) }))
      },
      // loadGraphData ends here: a workflow was opened or switched to.
      afterConfigureGraph() {
        ext.onGraphChanged()
      },
      setup() {
        const manager = app.extensionManager
        if (typeof manager?.registerSidebarTab !== 'function') {
          console.error(
            `[ckptpack] This ComfyUI frontend has no sidebar tab API (extensionManager.registerSidebarTab, frontend 1.3 or newer); the ${ext.sidebarTab.title} tab is not available.`,
          )
          return
        }
        manager.registerSidebarTab(tab)
        // The change tracker's event for every edit of the open graph.
        app.api?.addEventListener('graphChanged', () => ext.onGraphChanged())
      },
    }
    app.registerExtension(extension)
  },

  /** Shows the tab (toggling it would hide an open one). */
  openSidebarTab(tabId: string, isOpen: boolean): void {
    if (!isOpen) void app.extensionManager.command.execute(toggleTabCommand(tabId))
  },

  /** A setting's stored value, or undefined. */
  getSetting(id: string): unknown {
    const manager = app.extensionManager
    try {
      // extensionManager.setting is the current API; frontends before it only
      // had the (now deprecated) settings dialog's getSettingValue.
      return manager?.setting ? manager.setting.get(settingId(id)) : app.ui?.settings?.getSettingValue(settingId(id))
    } catch {
      return undefined
    }
  },

  /** A ComfyUI toast (PrimeVue, via extensionManager.toast). */
  toast(severity: ToastSeverity, summary: string, detail: string, life = 6000): void {
    const toast = app.extensionManager?.toast
    if (toast) toast.add({ severity, summary, detail, life })
    else console.info(`[ckptpack] ${summary}: ${detail}`)
  },

  /** The open graph and its API prompt, as a queued run would send them. */
  async snapshot(): Promise<WorkflowSnapshot> {
    // app.queuePrompt sends graphToPrompt()'s workflow as
    // extra_data.extra_pnginfo.workflow and its output as the prompt
    // (src/scripts/api.ts queuePrompt); CheckpointSave receives exactly those.
    const { workflow, output } = await app.graphToPrompt()
    return { workflow, prompt: output as WorkflowSnapshot['prompt'] }
  },
}

export type Host = typeof host
