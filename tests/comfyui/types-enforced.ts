// Proof that the type check has teeth: each line below misuses the ComfyUI
// frontend API the extension relies on. If @comfyorg/comfyui-frontend-types
// stopped resolving (everything `any`), or stopped describing these members,
// the @ts-expect-error directives would be unused and `tsc` would fail.
import type { ComfyApp, ComfyExtension, ExtensionManager } from '@comfyorg/comfyui-frontend-types'

declare const app: ComfyApp
declare const manager: ExtensionManager

// @ts-expect-error a custom sidebar tab needs render(container)
manager.registerSidebarTab({ id: 'x', title: 'X', type: 'custom' })
// @ts-expect-error sidebar tabs are 'custom' or 'vue'
manager.registerSidebarTab({ id: 'x', title: 'X', type: 'html', render() {} })
// @ts-expect-error a command needs a function
export const commandWithoutFunction: NonNullable<ComfyExtension['commands']>[number] = { id: 'x', label: 'X' }
// @ts-expect-error menuCommands take a path of strings
export const badMenu: ComfyExtension = { name: 'x', menuCommands: [{ path: 'Extensions', commands: ['x'] }] }
// @ts-expect-error setting types are a closed set
export const badSetting: ComfyExtension = { name: 'x', settings: [{ id: 'Comfy.DevMode', name: 'x', type: 'password', defaultValue: '' }] }
// @ts-expect-error graphToPrompt returns a promise
app.graphToPrompt().output
// @ts-expect-error registerExtension takes an extension object with a name
app.registerExtension({ setup() {} })
// @ts-expect-error toast severities are a closed set
manager.toast.add({ severity: 'fatal', summary: 'x' })
// @ts-expect-error node menu items need their content
export const badNodeMenu: ComfyExtension = { name: 'x', getNodeMenuItems: () => [{ callback() {} }] }
// @ts-expect-error afterConfigureGraph gets the missing node types, not the graph JSON
export const badAfterConfigure: ComfyExtension = { name: 'x', afterConfigureGraph: (graph: { nodes: unknown[] }) => void graph }
