// Builds the ComfyUI custom-node package: the folder build/comfyui/<name>/ and
// build/comfyui/<name>.zip (the folder, as one top-level directory, ready to
// unzip into ComfyUI/custom_nodes/).
//
//   node comfyui/tools/package.mjs --site web --entry build/comfyui/tsc/ckptpack.js \
//        --package comfyui --out build/comfyui [--license LICENSE]
//
// ComfyUI imports every **/*.js file under a package's WEB_DIRECTORY as an
// extension module into its own page (server.py GET /extensions). So the
// package holds exactly one .js file, the entry (web/ckptpack.js); the site's
// saver UI, worker and Go glue are copied under web/lib/ as .mjs, with their
// references to each other renamed to match. Which site files are copied is
// found by following references from web/app/saver.js and tools.js: static imports, and
// quoted names of files that exist in the site (worker.js, wasm_exec.js,
// ckptpack.wasm, style.css …), resolved against the referring file's folder
// and against the site root (the saver's baseURL).
//
// Output appears only when complete: everything is built in a temporary
// folder and renamed into place.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeZip } from './zip.mjs';

// The modules the extension imports (the saver, the Tools panel, the
// ModelSpec editor); everything they reference is shipped.
const ENTRY_MODULES = ['app/saver.js', 'app/tools.js', 'app/metadata-editor.js'];
const LIB = 'lib';

function parseArgs(argv) {
  const args = { name: 'ckptpack' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '');
    const value = argv[i + 1];
    if (!key || value === undefined) throw new Error(`usage: package.mjs --site DIR --entry FILE --package DIR --out DIR [--license FILE] [--name NAME] (bad argument "${argv[i]}")`);
    args[key] = value;
  }
  for (const required of ['site', 'entry', 'package', 'out']) {
    if (!args[required]) throw new Error(`package.mjs: --${required} is required`);
  }
  return args;
}

const isText = (file) => /\.(m?js|css|html|json|svg|txt|md)$/.test(file);
const isScript = (file) => file.endsWith('.js');

// Quoted strings that may name a file: './x.js', "../worker.js", 'ckptpack.wasm'.
const QUOTED = /(['"`])((?:\.{1,2}\/)?[A-Za-z0-9_][A-Za-z0-9_./-]*\.[A-Za-z0-9]+)\1/g;

/** Site-relative paths of every file reachable from the saver module. */
async function siteClosure(siteRoot) {
  const found = new Set();
  const queue = [...ENTRY_MODULES];
  while (queue.length) {
    const rel = queue.shift();
    if (found.has(rel)) continue;
    const abs = path.join(siteRoot, rel);
    if (!existsSync(abs)) throw new Error(`${abs}: the saver needs this file, but it does not exist (run make build-web first)`);
    found.add(rel);
    if (!isText(rel)) continue;
    const text = await fs.readFile(abs, 'utf8');
    for (const match of text.matchAll(QUOTED)) {
      const ref = match[2];
      const candidates = [path.posix.join(path.posix.dirname(rel), ref), path.posix.normalize(ref)];
      for (const candidate of candidates) {
        if (candidate.startsWith('..')) continue;
        const candidateAbs = path.join(siteRoot, candidate);
        if (existsSync(candidateAbs) && (await fs.stat(candidateAbs)).isFile()) {
          queue.push(candidate);
          break;
        }
      }
    }
  }
  return [...found].sort();
}

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Renames references to the copied scripts: "x.js" becomes "x.mjs". */
function renameReferences(text, scriptBaseNames) {
  let out = text;
  for (const base of scriptBaseNames) {
    const stem = escapeRegExp(base.slice(0, -'.js'.length));
    out = out.replace(new RegExp(`(['"\`/])${stem}\\.js(?=['"\`?#])`, 'g'), `$1${base.slice(0, -3)}.mjs`);
  }
  return out;
}

async function listFiles(dir, prefix = '') {
  const out = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...await listFiles(path.join(dir, entry.name), rel));
    else out.push(rel);
  }
  return out.sort();
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const siteRoot = path.resolve(args.site);
  const outRoot = path.resolve(args.out);
  const folder = path.join(outRoot, args.name);
  const zipPath = path.join(outRoot, `${args.name}.zip`);
  const staging = path.join(outRoot, `.${args.name}.staging`);

  await fs.rm(staging, { recursive: true, force: true });
  await fs.mkdir(path.join(staging, 'web', LIB), { recursive: true });

  // Python package and registry metadata.
  for (const file of ['__init__.py', 'pyproject.toml', 'README.md']) {
    await fs.copyFile(path.join(args.package, file), path.join(staging, file));
  }
  if (args.license) {
    if (!existsSync(args.license)) throw new Error(`${args.license}: license file not found (pyproject.toml names LICENSE)`);
    await fs.copyFile(args.license, path.join(staging, 'LICENSE'));
  } else {
    console.warn('package.mjs: warning: no LICENSE in the repository; the registry needs one (pyproject.toml license = { file = "LICENSE" })');
  }

  // The entry: the only .js file, so the only module ComfyUI imports.
  await fs.copyFile(args.entry, path.join(staging, 'web', 'ckptpack.js'));
  // The extension's own lib/: its static files from the source tree (not the
  // TypeScript), its compiled modules (.mjs, e.g. comfy-host.mjs) from next
  // to the compiled entry.
  const extraLibs = [
    { dir: path.join(args.package, 'src', 'extensions', 'ckptpack', LIB), keep: (rel) => !/\.(m?ts)$/.test(rel) },
    { dir: path.join(path.dirname(args.entry), LIB), keep: (rel) => rel.endsWith('.mjs') },
  ];
  for (const { dir, keep } of extraLibs) {
    if (!existsSync(dir)) continue;
    for (const rel of (await listFiles(dir)).filter(keep)) {
      await fs.mkdir(path.dirname(path.join(staging, 'web', LIB, rel)), { recursive: true });
      await fs.copyFile(path.join(dir, rel), path.join(staging, 'web', LIB, rel));
    }
  }

  // The site's saver, worker and engine, scripts renamed to .mjs.
  const closure = await siteClosure(siteRoot);
  const scriptBaseNames = [...new Set(closure.filter(isScript).map((rel) => path.posix.basename(rel)))];
  for (const rel of closure) {
    const target = path.join(staging, 'web', LIB, isScript(rel) ? `${rel.slice(0, -3)}.mjs` : rel);
    await fs.mkdir(path.dirname(target), { recursive: true });
    if (isText(rel)) {
      const text = await fs.readFile(path.join(siteRoot, rel), 'utf8');
      await fs.writeFile(target, renameReferences(text, scriptBaseNames));
    } else {
      await fs.copyFile(path.join(siteRoot, rel), target);
    }
  }

  // Checks: one auto-imported module, and no reference left to a script
  // under its old name.
  const webFiles = await listFiles(path.join(staging, 'web'));
  const autoImported = webFiles.filter(isScript);
  if (autoImported.length !== 1 || autoImported[0] !== 'ckptpack.js') {
    throw new Error(`package.mjs: web/ must hold exactly one .js file (ComfyUI imports each), found: ${autoImported.join(', ')}`);
  }
  for (const rel of webFiles.filter(isText)) {
    const text = await fs.readFile(path.join(staging, 'web', rel), 'utf8');
    for (const base of scriptBaseNames) {
      if (new RegExp(`['"\`/]${escapeRegExp(base)}['"\`?#]`).test(text)) {
        throw new Error(`package.mjs: web/${rel} still refers to ${base}, which the package ships as ${base.slice(0, -3)}.mjs`);
      }
    }
  }

  // Swap the finished folder in, then write the zip next to it.
  await fs.rm(folder, { recursive: true, force: true });
  await fs.rename(staging, folder);
  const files = (await listFiles(folder)).map((rel) => ({ name: `${args.name}/${rel}`, path: path.join(folder, rel) }));
  await writeZip(zipPath, files);

  const digest = createHash('sha256').update(await fs.readFile(zipPath)).digest('hex');
  console.log(`package.mjs: ${path.relative(process.cwd(), folder)}/ (${files.length} files: ${closure.length} from ${path.relative(process.cwd(), siteRoot)}/), ${path.relative(process.cwd(), zipPath)} sha256 ${digest}`);
}

main().catch(async (error) => {
  // No partial package: drop the staging folder of a failed run.
  const args = (() => { try { return parseArgs(process.argv.slice(2)); } catch { return null; } })();
  if (args) await fs.rm(path.join(path.resolve(args.out), `.${args.name}.staging`), { recursive: true, force: true });
  console.error(error.message);
  process.exit(1);
});
