// Types for ComfyUI's /scripts/app.js, the module every extension imports the
// running app from. The frontend build emits it as a shim that re-exports
// window.comfyAPI.app.app (ComfyUI_frontend build/plugins/comfyAPIPlugin.ts).
//
// This file sits at src/scripts/ so that the extension's own import,
// "../../scripts/app.js" from src/extensions/ckptpack/, resolves here exactly
// as it resolves on a ComfyUI server (/extensions/ckptpack/ckptpack.js ->
// /scripts/app.js). It is a declaration only; nothing is emitted for it.
import type { ComfyApp } from '@comfyorg/comfyui-frontend-types'

export declare const app: ComfyApp
