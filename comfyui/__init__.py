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

# The files under web/lib/ must reach the browser with a JavaScript (and
# WebAssembly) Content-Type: browsers refuse module scripts, workers and
# importScripts() served as application/octet-stream. ComfyUI serves them with
# aiohttp's static route, which guesses the type from the file name: with
# Python's global mimetypes table up to aiohttp 3.9, and with its own table
# (aiohttp.web_fileresponse.CONTENT_TYPES, Python's built-in defaults only)
# from 3.10 on. Python 3.10 and older have no .mjs entry in those defaults, and
# the global table can be altered by the Windows registry; so both tables get
# the types (text/javascript is the RFC 9239 type for .mjs).
_WEB_TYPES = (("text/javascript", ".mjs"), ("application/wasm", ".wasm"))


def _register_web_types():
    tables = [mimetypes]
    try:
        from aiohttp import web_fileresponse
    except ImportError:  # not running inside ComfyUI's server
        web_fileresponse = None
    aiohttp_table = getattr(web_fileresponse, "CONTENT_TYPES", None)
    if aiohttp_table is not None:
        tables.append(aiohttp_table)
    for table in tables:
        for content_type, extension in _WEB_TYPES:
            table.add_type(content_type, extension)


_register_web_types()

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
