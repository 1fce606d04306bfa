// Where the real ComfyUI frontend build (dist/) is, and what to do when it is
// missing. Used by `make test-comfyui` before the real-frontend suite and by
// the suite itself.
//   node tests/comfyui/real-frontend/frontend-dist.mjs
// exits 0 when the build is there (prints its path), and when it is missing:
//   1  (with how to get it): the suite cannot run, so the target fails;
//      always so with CI=1, where a missing build is a broken checkout;
//   3  when CKPT_ALLOW_NO_FRONTEND=1 (outside CI): the target prints
//      "NOT RUN" and goes on, so a developer without the build can run the
//      rest of `make test` while the missing suite stays visible.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** COMFYUI_FRONTEND_DIST, or ../shared/comfyui-frontend/dist next to the checkout. */
export function frontendDist() {
  return path.resolve(process.env.COMFYUI_FRONTEND_DIST || path.join(repo, '..', 'shared', 'comfyui-frontend', 'dist'));
}

export function missingMessage(dist) {
  return [
    `The real ComfyUI frontend build is not at ${dist} (no index.html there).`,
    'The real-frontend suite (tests/comfyui/real-frontend/) needs it. To get it, either:',
    '  - put the build at ../shared/comfyui-frontend/dist next to this checkout (CI has it there), or',
    '  - set COMFYUI_FRONTEND_DIST to a built frontend: the comfyui_frontend_package/static folder of the',
    '    comfyui-frontend-package wheel (pip download comfyui-frontend-package==1.45.0; unzip it), or',
    '    `nx build` of Comfy-Org/ComfyUI_frontend v1.45.0 (its dist/).',
    'To run the other suites without it (outside CI): CKPT_ALLOW_NO_FRONTEND=1; the suite is then reported NOT RUN.',
  ].join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dist = frontendDist();
  if (existsSync(path.join(dist, 'index.html'))) {
    console.log(dist);
    process.exit(0);
  }
  console.error(missingMessage(dist));
  const ci = Boolean(process.env.CI) && process.env.CI !== 'false' && process.env.CI !== '0';
  if (!ci && process.env.CKPT_ALLOW_NO_FRONTEND === '1') process.exit(3);
  if (ci) console.error('CI is set: the real-frontend suite must run.');
  process.exit(1);
}
