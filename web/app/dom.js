// el(): the one element builder of the page's modules. Text is only ever
// set with textContent ("text"), so file and metadata strings stay inert.

/**
 * @param {Document} doc
 * @param {string} tag
 * @param {object} [props] text, class/className, dataset, aria-* and data-*
 *   attributes, anything else as a property when the element has it, else
 *   as an attribute
 * @param {...(Node|string|null|undefined)} children
 */
export function el(doc, tag, props = {}, ...children) {
  const node = doc.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'text') node.textContent = value;
    else if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('aria-') || key.startsWith('data-') || key === 'role') node.setAttribute(key, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.flat().filter((c) => c != null));
  return node;
}

/** Links the stylesheet at href into doc's head unless a link to it is there already. */
export function linkStylesheet(doc, href) {
  const url = String(href);
  if ([...doc.querySelectorAll('link[rel="stylesheet"]')].some((link) => link.href === url)) return;
  doc.head.append(el(doc, 'link', { rel: 'stylesheet', href: url }));
}
