// The standalone page's tasks ("Save a checkpoint", "Convert / extract /
// prune", "Edit metadata"): one shown at a time, chosen with the tabs in
// web/index.html (the WAI-ARIA tabs pattern: roles tablist, tab, tabpanel;
// arrow keys, Home and End move between tabs and show each; Tab moves on
// into the panel). The chosen task is the URL's hash (#save, #tools,
// #metadata), so a reload, a link or Back shows that task.

/**
 * @param {Element} tablist the [role="tablist"] holding [role="tab"] buttons,
 *   each with data-task (its hash) and aria-controls (its tabpanel's id)
 * @param {{onShow?: (task: string) => void}} [options] called each time a task is shown
 * @returns {{readonly current: string, show(task: string): void, destroy(): void}}
 *   show: selects a task as a click on its tab does (a new history entry).
 */
export function mountTasks(tablist, { onShow } = {}) {
  const doc = tablist.ownerDocument;
  const win = doc.defaultView;
  const tabs = [...tablist.querySelectorAll('[role="tab"]')];
  const names = tabs.map((tab) => tab.dataset.task);
  const panelOf = (tab) => doc.getElementById(tab.getAttribute('aria-controls'));
  let current = '';

  function select(task) {
    if (!names.includes(task) || task === current) return;
    current = task;
    for (const tab of tabs) {
      const on = tab.dataset.task === task;
      tab.setAttribute('aria-selected', String(on));
      // Roving tabindex: Tab reaches the chosen tab, then its panel.
      tab.tabIndex = on ? 0 : -1;
      panelOf(tab).hidden = !on;
    }
    doc.body.dataset.task = task;
    onShow?.(task);
  }

  const fromHash = () => decodeURIComponent(win.location.hash.slice(1));

  /** A task chosen by the user: shown, and kept in the URL (a history entry). */
  function choose(task) {
    if (!names.includes(task)) return;
    select(task);
    // The hash names a task, not an element id, so the page does not jump.
    if (fromHash() !== task) win.history.pushState(null, '', `#${task}`);
  }

  const onClick = (event) => {
    const tab = event.target.closest('[role="tab"]');
    if (tab && tabs.includes(tab)) choose(tab.dataset.task);
  };
  const onKey = (event) => {
    const at = tabs.indexOf(doc.activeElement);
    if (at < 0) return;
    const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    const tab = tabs[(next + tabs.length) % tabs.length];
    tab.focus();
    choose(tab.dataset.task);
  };
  // Back and Forward (and a typed hash) change the hash: show its task.
  const onHash = () => select(names.includes(fromHash()) ? fromHash() : names[0]);

  tablist.addEventListener('click', onClick);
  tablist.addEventListener('keydown', onKey);
  win.addEventListener('popstate', onHash);
  win.addEventListener('hashchange', onHash);
  select(names.includes(fromHash()) ? fromHash() : names[0]);

  return {
    get current() { return current; },
    show: choose,
    destroy() {
      tablist.removeEventListener('click', onClick);
      tablist.removeEventListener('keydown', onKey);
      win.removeEventListener('popstate', onHash);
      win.removeEventListener('hashchange', onHash);
    },
  };
}
