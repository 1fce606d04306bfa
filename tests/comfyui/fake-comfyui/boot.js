// Starts the fake ComfyUI app. Query parameters set up the case under test:
//   settings=<JSON>   setting values the user saved earlier
//   noteBytes=<n>     adds a Note node holding n bytes of text (large workflows)
//   legacySettings=1  no extensionManager.setting, as in frontends before it:
//                     settings only through app.ui.settings.getSettingValue
import { app } from '/scripts/app.js';

const params = new URLSearchParams(location.search);
const [workflow, prompt] = await Promise.all(
  ['/fake/workflow.json', '/fake/prompt.json'].map(async (url) => (await fetch(url)).json()),
);
const noteBytes = Number(params.get('noteBytes') ?? 0);
if (noteBytes > 0) {
  workflow.nodes.push({
    id: 6, type: 'Note', pos: [820, 60], size: [400, 400], flags: {}, order: 5, mode: 0,
    inputs: [], outputs: [], properties: {}, widgets_values: ['x'.repeat(noteBytes)],
  });
  workflow.last_node_id = 6;
}
const settings = JSON.parse(params.get('settings') ?? '{}');
if (params.has('legacySettings')) delete app.extensionManager.setting;

globalThis.fakeComfy = { app, ready: app.start({ workflow, prompt, settings }) };
await globalThis.fakeComfy.ready;
document.body.dataset.ready = 'true';
