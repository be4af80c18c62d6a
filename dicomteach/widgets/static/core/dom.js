// Building the widgets' DOM: elements, buttons, SVG nodes.

/**
 * A new HTML element with classes and text.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [className] space-separated classes
 * @param {string} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * A widget button. Its accessible name is its visible text (WCAG 2.5.3: speech users
 * say what they see; "Brain", not "W 80 L 40"), and `title` its tooltip and
 * description. A button shown as a symbol ("+", "×") is named by `title`; one made
 * empty and filled by the caller (a thumbnail, a swatch and a name) takes the name of
 * what it holds.
 * @param {string} label
 * @param {string} title
 * @param {(event: MouseEvent) => void} onClick
 * @returns {HTMLButtonElement}
 */
export function button(label, title, onClick) {
  const b = el("button", "dt-viewer-button", label);
  b.type = "button";
  b.title = title;
  if (label && !/[\p{L}\p{N}]/u.test(label)) b.setAttribute("aria-label", title);
  b.addEventListener("click", onClick);
  return b;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * A new SVG element with attributes.
 * @template {keyof SVGElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string | number>} [attrs]
 * @returns {SVGElementTagNameMap[K]}
 */
export function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  return node;
}

/**
 * Set an element's text only when it changes: a view writes every text at each redraw,
 * and one written again unchanged would still make the page lay itself out anew.
 * @param {HTMLElement} element
 * @param {string} text
 */
export function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}
