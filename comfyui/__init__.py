"""ckptpack for ComfyUI: "Save Checkpoint" streamed in the browser tab.

A frontend-only custom-node package. ComfyUI serves WEB_DIRECTORY at
/extensions/<this folder's name>/ (nodes.py, EXTENSION_WEB_DIRS) and imports
every **/*.js file under it as an extension module (server.py GET
/extensions). Only web/ckptpack.js is such a file; the saver UI, the Web
Worker and Go's wasm_exec glue are shipped as .mjs under web/lib/ so that
ComfyUI does not import them into its own page, and web/ckptpack.js loads them
on demand relative to its own URL.

Nothing runs on the server: the checkpoint is assembled by WebAssembly in the
user's browser, reading the component files the user picks there.
"""

import mimetypes

# ComfyUI registers the web directory before it checks NODE_CLASS_MAPPINGS,
# and logs a frontend-only package as skipped unless the (possibly empty)
# mappings exist (nodes.py load_custom_node).
NODE_CLASS_MAPPINGS = {}
NODE_DISPLAY_NAME_MAPPINGS = {}

WEB_DIRECTORY = "./web"

# aiohttp's static route takes the Content-Type from Python's mimetypes
# table. Browsers refuse module scripts and module workers served with a
# non-JavaScript type, and an .mjs or .wasm entry can be missing or wrong
# (Windows registry, old Pythons), as ComfyUI itself works around for .js
# (server.py forces .js). text/javascript is the RFC 9239 type for .mjs.
mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("application/wasm", ".wasm")

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
