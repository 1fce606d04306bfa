"""Checks the built ComfyUI package the way ComfyUI and the Comfy Registry
read it:
    python3 tests/comfyui/check_package.py build/comfyui/ckptpack [build/comfyui/ckptpack.zip]

- the zip (as ComfyUI-Manager extracts it, with Python's zipfile) has intact
  entries and holds exactly the folder's files under one top-level folder;

- __init__.py imports on its own (no ComfyUI modules) and defines
  WEB_DIRECTORY (an existing folder) and empty NODE_CLASS_MAPPINGS /
  NODE_DISPLAY_NAME_MAPPINGS (nodes.py load_custom_node);
- importing it maps .mjs to a JavaScript type and .wasm to application/wasm
  in Python's mimetypes table, which aiohttp's static route uses;
- under WEB_DIRECTORY, ComfyUI's glob("**/*.js") finds only the entry module;
- pyproject.toml has the registry's required fields
  (https://docs.comfy.org/registry/specifications).
Exits 1 with one line per problem.
"""

import glob
import importlib.util
import mimetypes
import os
import re
import sys
import types
import zipfile

# Importing the package must not add __pycache__ to the folder under test.
sys.dont_write_bytecode = True

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    tomllib = None


def install_aiohttp_stand_in():
    """aiohttp >= 3.10 guesses Content-Types with its own MimeTypes() table
    (Python's built-in defaults only). Without aiohttp installed, stand in
    for it, with .mjs removed as in Python 3.10's defaults, so the check shows
    that __init__.py registers the type in that table too."""
    try:
        import aiohttp.web_fileresponse  # noqa: F401
        return
    except ImportError:
        pass
    table = mimetypes.MimeTypes()
    for by_ext in table.types_map:
        by_ext.pop(".mjs", None)
    package = types.ModuleType("aiohttp")
    module = types.ModuleType("aiohttp.web_fileresponse")
    module.CONTENT_TYPES = table
    package.web_fileresponse = module
    sys.modules["aiohttp"] = package
    sys.modules["aiohttp.web_fileresponse"] = module


def main(folder):
    problems = []
    install_aiohttp_stand_in()
    init = os.path.join(folder, "__init__.py")
    spec = importlib.util.spec_from_file_location("ckptpack_package_under_test", init)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # any import error is the finding
        return [f"{init}: import failed: {error!r}"]

    if getattr(module, "NODE_CLASS_MAPPINGS", None) != {}:
        problems.append(f"{init}: NODE_CLASS_MAPPINGS must be an empty dict")
    if getattr(module, "NODE_DISPLAY_NAME_MAPPINGS", None) != {}:
        problems.append(f"{init}: NODE_DISPLAY_NAME_MAPPINGS must be an empty dict")
    web = getattr(module, "WEB_DIRECTORY", None)
    web_dir = os.path.abspath(os.path.join(folder, web)) if isinstance(web, str) else None
    if not web_dir or not os.path.isdir(web_dir):
        problems.append(f"{init}: WEB_DIRECTORY {web!r} is not a folder of the package")
    else:
        found = sorted(os.path.relpath(f, web_dir).replace("\\", "/")
                       for f in glob.glob(os.path.join(glob.escape(web_dir), "**/*.js"), recursive=True))
        if found != ["ckptpack.js"]:
            problems.append(f"{web_dir}: ComfyUI would import {found}, expected only ['ckptpack.js']")
        for required in ["lib/comfy-host.mjs", "lib/app/saver.mjs", "lib/worker.mjs", "lib/wasm_exec.mjs", "lib/ckptpack.wasm", "lib/style.css"]:
            if not os.path.isfile(os.path.join(web_dir, required)):
                problems.append(f"{web_dir}: {required} is missing")

    tables = [("mimetypes", mimetypes)]
    try:
        from aiohttp import web_fileresponse
        tables.append(("aiohttp.web_fileresponse.CONTENT_TYPES", web_fileresponse.CONTENT_TYPES))
    except (ImportError, AttributeError):
        pass  # aiohttp < 3.10 uses the mimetypes table
    for table_name, table in tables:
        for suffix, wanted in ((".mjs", "javascript"), (".wasm", "application/wasm")):
            guessed = table.guess_type("x" + suffix)[0] or ""
            if wanted not in guessed:
                problems.append(f"{init}: after import, {table_name} maps {suffix} to {guessed!r}")

    pyproject = os.path.join(folder, "pyproject.toml")
    if tomllib is None:
        text = open(pyproject, encoding="utf-8").read()
        for field in ("name", "version", "description", "Repository", "PublisherId", "DisplayName", "Icon"):
            if not re.search(rf"^\s*\"?{field}\"?\s*=", text, re.M):
                problems.append(f"{pyproject}: {field} is missing")
        return problems
    with open(pyproject, "rb") as f:
        data = tomllib.load(f)
    project = data.get("project", {})
    comfy = data.get("tool", {}).get("comfy", {})
    name = project.get("name", "")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*(?:[-_.][A-Za-z0-9]+)*", name) or len(name) >= 100 or "comfyui" in name.lower():
        problems.append(f"{pyproject}: project.name {name!r} breaks the registry's node id rules")
    if not re.fullmatch(r"\d+\.\d+\.\d+", project.get("version", "")):
        problems.append(f"{pyproject}: project.version must be X.Y.Z")
    if not project.get("description"):
        problems.append(f"{pyproject}: project.description is empty")
    license_ = project.get("license")
    if not isinstance(license_, dict) or not (license_.get("file") or license_.get("text")):
        problems.append(f"{pyproject}: project.license must be {{ file = ... }} or {{ text = ... }}")
    if not project.get("urls", {}).get("Repository", "").startswith("https://"):
        problems.append(f"{pyproject}: project.urls.Repository is missing")
    for field in ("PublisherId", "DisplayName", "Icon"):
        if not comfy.get(field):
            problems.append(f"{pyproject}: tool.comfy.{field} is missing")
    return problems


def check_zip(folder, zip_path):
    problems = []
    name = os.path.basename(os.path.normpath(folder))
    with zipfile.ZipFile(zip_path) as archive:
        bad = archive.testzip()
        if bad:
            problems.append(f"{zip_path}: {bad} is corrupt")
        in_zip = {info.filename for info in archive.infolist() if not info.is_dir()}
        for info in archive.infolist():
            if info.filename.startswith("/") or ".." in info.filename.split("/"):
                problems.append(f"{zip_path}: unsafe entry name {info.filename!r}")
            elif not info.is_dir() and not info.filename.startswith(name + "/"):
                problems.append(f"{zip_path}: {info.filename} is outside the {name}/ folder")
            elif not info.is_dir():
                on_disk = os.path.join(folder, info.filename[len(name) + 1:])
                if not os.path.isfile(on_disk) or open(on_disk, "rb").read() != archive.read(info):
                    problems.append(f"{zip_path}: {info.filename} differs from {on_disk}")
    in_folder = {f"{name}/" + os.path.relpath(os.path.join(d, f), folder).replace(os.sep, "/")
                 for d, _, files in os.walk(folder) for f in files}
    for missing in sorted(in_folder - in_zip):
        problems.append(f"{zip_path}: {missing} is missing")
    return problems


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: check_package.py PACKAGE_FOLDER [PACKAGE_ZIP]")
    found = main(sys.argv[1])
    if len(sys.argv) == 3:
        found += check_zip(sys.argv[1], sys.argv[2])
    for line in found:
        print(line)
    if found:
        sys.exit(1)
    print(f"{sys.argv[1]}: package OK")
