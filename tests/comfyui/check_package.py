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
- pyproject.toml has the registry's required fields and well-formed
  recommended ones (https://docs.comfy.org/registry/specifications): the
  Icon is a file of this repository within 800 x 400, requires-comfyui a
  version specifier, includes lists web/;
- the package's modules import nothing from the frontend but its stable
  shims, scripts/app.js and scripts/api.js.
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
    problems += check_registry_fields(pyproject, project, comfy)
    problems += check_frontend_imports(web_dir) if web_dir and os.path.isdir(web_dir) else []
    return problems


# The repository root, for files the registry fetches from it (the Icon URL).
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ICON_TYPES = (".svg", ".png", ".jpg", ".jpeg", ".gif")
# PEP 440 version specifiers, comma separated: ">=0.3.64", ">=1.0,<2".
SPECIFIER = re.compile(r"\s*(~=|===?|!=|<=|>=|<|>)\s*\d+(\.\d+)*(\.\*)?\s*")


def check_registry_fields(pyproject, project, comfy):
    """The registry's recommended fields, beyond the required ones."""
    problems = []
    publisher = comfy.get("PublisherId", "")
    if publisher and not re.fullmatch(r"[a-z0-9][a-z0-9-]*", publisher):
        problems.append(f"{pyproject}: tool.comfy.PublisherId {publisher!r} must be lower-case letters, digits and hyphens")
    icon = comfy.get("Icon", "")
    if icon:
        if not icon.startswith("https://") or not icon.lower().endswith(ICON_TYPES):
            problems.append(f"{pyproject}: tool.comfy.Icon must be an https URL of an SVG, PNG, JPG or GIF file")
        match = re.match(r"https://raw\.githubusercontent\.com/[^/]+/[^/]+/[^/]+/(.+)$", icon)
        if match and not os.path.isfile(os.path.join(REPO, match.group(1))):
            problems.append(f"{pyproject}: tool.comfy.Icon points at {match.group(1)}, which is not in the repository")
        elif match and match.group(1).endswith(".svg"):
            problems += check_svg_size(os.path.join(REPO, match.group(1)))
    requires = comfy.get("requires-comfyui")
    if requires is not None and not all(SPECIFIER.fullmatch(part) for part in str(requires).split(",")):
        problems.append(f"{pyproject}: tool.comfy.requires-comfyui {requires!r} is not a version specifier")
    if "web" not in comfy.get("includes", []):
        problems.append(f"{pyproject}: tool.comfy.includes must list \"web\" (its build outputs are not in git)")
    for key in ("Documentation", "Bug Tracker"):
        if not project.get("urls", {}).get(key, "").startswith("https://"):
            problems.append(f"{pyproject}: project.urls.{key!r} is missing")
    if not any(c.startswith("Operating System ::") for c in project.get("classifiers", [])):
        problems.append(f"{pyproject}: project.classifiers names no operating system")
    if project.get("dependencies") != []:
        problems.append(f"{pyproject}: project.dependencies must be empty: the package runs in the browser only")
    return problems


def check_svg_size(path):
    """The registry shows icons up to 800 x 400 px."""
    text = open(path, encoding="utf-8").read()
    box = re.search(r'viewBox="\s*[-\d.]+[\s,]+[-\d.]+[\s,]+([\d.]+)[\s,]+([\d.]+)\s*"', text)
    if not box:
        return [f"{path}: the icon has no viewBox"]
    width, height = float(box.group(1)), float(box.group(2))
    return [] if width <= 800 and height <= 400 else [f"{path}: the icon is {width:g} x {height:g}, over 800 x 400"]


# import/export ... from "x", import("x"): the specifiers of a module.
IMPORT = re.compile(r"""(?:\bimport\s*\(\s*|\bfrom\s*|\bimport\s+)(['"])([^'"]+)\1""")
FRONTEND_MODULES = {"scripts/app.js", "scripts/api.js"}


def check_frontend_imports(web_dir):
    """Modules outside the package may only be the frontend's stable shims.

    ComfyUI serves the package at /extensions/<name>/, so a relative import
    climbing out of web/ lands in the frontend; only /scripts/app.js and
    /scripts/api.js are its public modules."""
    problems = []
    for directory, _, files in os.walk(web_dir):
        for name in files:
            if not name.endswith((".js", ".mjs")):
                continue
            path = os.path.join(directory, name)
            # The URL path of the module inside the served tree /extensions/<name>/.
            url_dir = "extensions/pkg/" + os.path.relpath(directory, web_dir).replace(os.sep, "/")
            for match in IMPORT.finditer(open(path, encoding="utf-8").read()):
                spec = match.group(2)
                if not spec.startswith((".", "/")):
                    if not spec.startswith(("http:", "https:", "data:", "blob:")):
                        problems.append(f"{path}: imports bare specifier {spec!r}")
                    continue
                target = os.path.normpath(spec.lstrip("/") if spec.startswith("/") else os.path.join(url_dir, spec)).replace(os.sep, "/")
                if target.startswith("extensions/pkg/") or target == "extensions/pkg":
                    continue
                if target not in FRONTEND_MODULES:
                    problems.append(f"{path}: imports {spec!r} ({target}) from the frontend; only scripts/app.js and scripts/api.js are stable")
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
