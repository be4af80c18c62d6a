// Every view of a View3D draws (dicomteach/widgets/view3d.py).
//
// ipyniivue's module holds one Niivue instance, with one canvas, for the model that
// loaded it, and each render() moves that canvas into the newest view: a widget
// displayed twice, or shown again by JupyterLab's "Create New View for Output", left
// the earlier view empty, and closing a view took the picture from all of them.
// anywidget loads a module per model, so the module's own source (the synced `_esm`
// trait) loaded again gives a second, independent instance. The first view of a model
// keeps ipyniivue's own instance; each view opened while that one is in use gets a
// fresh copy of the module, initialised on the same model inside the view's own
// listener context, and dropped with the view. Every instance listens to the same
// traits, so what Python changes (volumes, window, camera) reaches every view; the
// mouse turns the view it is in.

/** @import { AnyModel } from "./anywidget.d.ts" */

/**
 * @typedef {{ _esm: string }} NiivueState
 * @typedef {AnyModel<NiivueState>} NiivueModel
 * @typedef {object} NiivueModule ipyniivue's default export, as anywidget calls it.
 * @property {(props: { model: NiivueModel }) => unknown} [initialize]
 * @property {(props: { model: NiivueModel, el: HTMLElement }) => unknown} render
 */

/**
 * What a module's initialize() or render() resolved to, as a function to call once.
 * @param {unknown} cleanup
 * @returns {() => void}
 */
function once(cleanup) {
  let done = false;
  return () => {
    if (done || typeof cleanup !== "function") return;
    done = true;
    cleanup();
  };
}

/**
 * A fresh instance of the module for one more view of `model`, drawn in `el`.
 * @param {NiivueModel} model
 * @param {HTMLElement} el
 * @returns {Promise<() => void>}
 */
async function renderInstance(model, el) {
  const url = URL.createObjectURL(new Blob([model.get("_esm")], { type: "text/javascript" }));
  /** @type {{ default: NiivueModule }} */
  let copy;
  try {
    copy = await import(url);
  } finally {
    URL.revokeObjectURL(url);
  }
  const stopInstance = once(await copy.default.initialize?.({ model }));
  const stopView = once(await copy.default.render({ model, el }));
  return () => {
    stopView();
    stopInstance();
  };
}

/**
 * ipyniivue's module, changed so that every view draws with its own instance.
 * @param {NiivueModule} base
 * @returns {NiivueModule}
 */
function eachViewDraws(base) {
  /** The view holding this module's own canvas, if any. @type {HTMLElement | null} */
  let owner = null;
  return {
    initialize: base.initialize,
    async render({ model, el }) {
      if (owner !== null && owner !== el) return renderInstance(model, el);
      owner = el;
      const stop = once(await base.render({ model, el }));
      return () => {
        if (owner === el) owner = null;
        stop();
      };
    },
  };
}

export default eachViewDraws;
