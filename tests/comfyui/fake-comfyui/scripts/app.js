// @ts-check
// A minimal stand-in for ComfyUI's /scripts/app.js, for the extension's
// end-to-end test. It implements just the frontend API the extension uses,
// typed against @comfyorg/comfyui-frontend-types (tests/comfyui/tsconfig.json
// checks this file), and behaves as ComfyUI_frontend does where it matters:
// - extensions are found with GET /extensions and import()ed one by one, an
//   import error is logged and does not stop the others (extensionService.ts);
// - settings, commands and menuCommands are registered before init(), and
//   setup() runs last (app.ts);
// - registerSidebarTab also registers "Workspace.ToggleSidebarTab.<id>", and a
//   custom tab gets render(fresh element) when shown and destroy() when hidden
//   (sidebarTabStore.ts, ExtensionSlot.vue);
// - a file dropped anywhere on the document reaches the canvas drop handler,
//   which would load a workflow from it (app.ts).

/** @typedef {import('@comfyorg/comfyui-frontend-types').ComfyApp} ComfyApp */
/** @typedef {import('@comfyorg/comfyui-frontend-types').ComfyExtension} ComfyExtension */
/** @typedef {import('@comfyorg/comfyui-frontend-types').ExtensionManager} ExtensionManager */
/** @typedef {import('@comfyorg/comfyui-frontend-types').SidebarTabExtension} SidebarTabExtension */
/** @typedef {NonNullable<ComfyExtension['commands']>[number]} ComfyCommand */
/** @typedef {NonNullable<ComfyExtension['settings']>[number]} SettingParams */

/**
 * The parts of ExtensionManager this stand-in provides.
 * @typedef {Pick<ExtensionManager, 'registerSidebarTab' | 'unregisterSidebarTab' | 'getSidebarTabs' | 'command' | 'setting'>} FakeExtensionManager
 */

/** Deep copy through JSON, as LGraph.serialize() returns fresh objects. */
const clone = (/** @type {unknown} */ value) => JSON.parse(JSON.stringify(value));

class FakeGraph {
  constructor() {
    /** @type {Record<string, unknown>} */
    this.workflow = {};
  }

  /** @returns {ReturnType<ComfyApp['graph']['serialize']>} */
  serialize() {
    return clone(this.workflow);
  }
}

class FakeApp {
  constructor() {
    /** @type {ComfyExtension[]} */
    this.extensions = [];
    /** @type {string[]} extension URLs whose import failed, with the error */
    this.loadErrors = [];
    /** @type {string[]} names of files dropped on the "canvas" (the document) */
    this.canvasDrops = [];
    /** @type {Map<string, ComfyCommand>} */
    this.commands = new Map();
    /** @type {{path: string[], commands: string[]}[]} */
    this.menuCommands = [];
    /** @type {Map<string, SettingParams>} */
    this.settingsById = new Map();
    /** @type {Record<string, unknown>} values the user saved earlier (?settings=) */
    this.settingValues = {};
    /** @type {SidebarTabExtension[]} */
    this.sidebarTabs = [];
    /** @type {string | null} */
    this.activeTabId = null;
    /** @type {HTMLElement | null} the element the active custom tab rendered into */
    this.tabElement = null;
    this.graph = new FakeGraph();
    /** @type {unknown} the API prompt graphToPrompt() returns */
    this.prompt = {};
    /** ComfyApi is an EventTarget; the extension listens for graphChanged. */
    this.api = new EventTarget();

    /** @type {FakeExtensionManager} */
    const manager = {
      registerSidebarTab: (tab) => this.registerSidebarTab(tab),
      unregisterSidebarTab: (id) => {
        const tab = this.sidebarTabs.find((t) => t.id === id);
        if (tab && tab.type === 'custom') tab.destroy?.();
        this.sidebarTabs = this.sidebarTabs.filter((t) => t.id !== id);
        this.renderSidebar();
      },
      getSidebarTabs: () => [...this.sidebarTabs],
      command: {
        get commands() {
          return [...manager_commands()];
        },
        execute: (id, options) => {
          const command = this.commands.get(id);
          if (!command) throw new Error(`Command ${id} not found`);
          Promise.resolve()
            .then(() => command.function(options?.metadata))
            .catch((error) => (options?.errorHandler ?? console.error)(error));
        },
      },
      setting: {
        get: (id) => /** @type {any} */ (this.settingValue(id)),
        set: (id, value) => {
          this.settingValues[id] = value;
        },
      },
    };
    const manager_commands = () => this.commands.values();
    this.extensionManager = manager;
    this.ui = {
      settings: {
        /** @param {string} id @param {unknown} [defaultValue] */
        getSettingValue: (id, defaultValue) => this.settingValue(id) ?? defaultValue,
      },
    };
  }

  /** @param {string} id */
  settingValue(id) {
    if (id in this.settingValues) return this.settingValues[id];
    const params = this.settingsById.get(id);
    if (!params) return undefined;
    const def = params.defaultValue;
    return typeof def === 'function' ? def() : def;
  }

  /** @type {ComfyApp['registerExtension']} */
  registerExtension(extension) {
    if (this.extensions.some((e) => e.name === extension.name)) {
      throw new Error(`Extension named '${extension.name}' already registered.`);
    }
    this.extensions.push(extension);
  }

  /** @type {ComfyApp['graphToPrompt']} */
  async graphToPrompt() {
    return /** @type {any} */ ({ workflow: this.graph.serialize(), output: clone(this.prompt) });
  }

  /** @param {SidebarTabExtension} tab */
  registerSidebarTab(tab) {
    this.sidebarTabs = [...this.sidebarTabs, tab];
    this.commands.set(`Workspace.ToggleSidebarTab.${tab.id}`, {
      id: `Workspace.ToggleSidebarTab.${tab.id}`,
      label: `Toggle ${tab.title} Sidebar`,
      function: () => this.toggleSidebarTab(tab.id),
    });
    this.renderSidebar();
  }

  /** @param {string} id */
  toggleSidebarTab(id) {
    const previous = this.sidebarTabs.find((t) => t.id === this.activeTabId);
    if (previous && previous.type === 'custom') previous.destroy?.();
    this.tabElement?.remove();
    this.tabElement = null;
    this.activeTabId = this.activeTabId === id ? null : id;
    const tab = this.sidebarTabs.find((t) => t.id === this.activeTabId);
    if (tab && tab.type === 'custom') {
      const el = document.createElement('div');
      el.className = 'sidebar-tab-content';
      el.dataset.tabId = tab.id;
      /** @type {HTMLElement} */ (document.getElementById('sidebar-panel')).append(el);
      this.tabElement = el;
      tab.render(el);
    }
    this.renderSidebar();
  }

  renderSidebar() {
    const bar = /** @type {HTMLElement} */ (document.getElementById('sidebar-tabs'));
    bar.replaceChildren(...this.sidebarTabs.map((tab) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = tab.label ?? tab.title;
      button.title = tab.tooltip ?? tab.title;
      button.setAttribute('aria-label', tab.title);
      button.setAttribute('aria-pressed', String(tab.id === this.activeTabId));
      button.addEventListener('click', () => this.extensionManager.command.execute(`Workspace.ToggleSidebarTab.${tab.id}`));
      return button;
    }));
  }

  renderMenu() {
    const menu = /** @type {HTMLElement} */ (document.getElementById('menu'));
    const items = [];
    for (const group of this.menuCommands) {
      for (const id of group.commands) {
        const command = this.commands.get(id);
        if (!command) continue;
        const label = command.menubarLabel ?? command.label ?? id;
        const text = typeof label === 'function' ? label() : label;
        const item = document.createElement('button');
        item.type = 'button';
        item.setAttribute('role', 'menuitem');
        item.textContent = [...group.path, text].join(' › ');
        item.addEventListener('click', () => this.extensionManager.command.execute(id));
        items.push(item);
      }
    }
    menu.replaceChildren(...items);
  }

  /** Replaces the graph, as editing the canvas would, and says so like the change tracker. */
  setWorkflow(/** @type {Record<string, unknown>} */ workflow, /** @type {unknown} */ prompt = this.prompt) {
    this.graph.workflow = workflow;
    this.prompt = prompt;
    this.api.dispatchEvent(new CustomEvent('graphChanged', { detail: workflow }));
  }

  /**
   * Starts the app: loads the graph, every extension module, and runs the
   * extension hooks in ComfyUI's order.
   * @param {{workflow: Record<string, unknown>, prompt: unknown, settings: Record<string, unknown>}} state
   */
  async start({ workflow, prompt, settings }) {
    this.graph.workflow = workflow;
    this.prompt = prompt;
    this.settingValues = { ...settings };

    document.addEventListener('dragover', (event) => event.preventDefault());
    document.addEventListener('drop', (event) => {
      event.preventDefault();
      event.stopPropagation();
      const file = event.dataTransfer?.files[0];
      if (file) this.canvasDrops.push(file.name);
    });

    const urls = /** @type {string[]} */ (await (await fetch('/extensions')).json());
    for (const url of urls) {
      try {
        await import(url);
      } catch (error) {
        this.loadErrors.push(`${url}: ${error}`);
        console.error(`Error loading extension ${url}`, error);
      }
    }
    for (const extension of this.extensions) {
      for (const params of extension.settings ?? []) this.settingsById.set(params.id, params);
      for (const command of extension.commands ?? []) this.commands.set(command.id, command);
      this.menuCommands.push(...(extension.menuCommands ?? []));
    }
    for (const extension of this.extensions) await extension.init?.(/** @type {any} */ (this));
    for (const extension of this.extensions) await extension.setup?.(/** @type {any} */ (this));
    this.renderMenu();
    this.renderSidebar();
  }
}

export const app = new FakeApp();
