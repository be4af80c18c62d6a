// dicomteach Viewer (widgets/viewer.py): one viewport with the standard controls, and
// for a study of several series a thumbnail strip to switch between them.

import { el, button } from "./core/dom.js";
import { Scene } from "./core/scene.js";
import { stateComplete } from "./core/sync.js";
import { Viewport } from "./core/viewport.js";
import { controlGroup, widgetLayout, standardControls } from "./core/controls.js";

/** @import { AnyModel, RenderProps, WidgetModule } from "./anywidget" */
/** @import { ImageState } from "./core/traits" */

/**
 * Viewer's own synced traits: the series of a study, the one on screen, and a token
 * that changes when another series' volume is in.
 * @typedef {ImageState & {
 *   series: {index: number, label: string, thumbnail: string}[],
 *   series_index: number,
 *   volume_token: number,
 * }} ViewerState
 */

/**
 * The series buttons: a thumbnail and a label each; the one on screen pressed.
 * @param {AnyModel<ViewerState>} model
 */
function seriesGroup(model) {
  const list = model.get("series");
  if (list.length < 2) return null;
  const group = controlGroup("Series", [], "dt-series");
  for (const item of list) {
    const b = button("", `Show ${item.label}`, () => {
      if (model.get("series_index") === item.index) return;
      model.set("series_index", item.index);
      model.save_changes();
    });
    b.classList.add("dt-series-button");
    b.dataset.series = String(item.index);
    const img = el("img", "dt-series-thumb");
    img.src = item.thumbnail;
    img.alt = "";
    b.append(img, el("span", "dt-series-label", item.label));
    b.setAttribute("aria-pressed", String(item.index === model.get("series_index")));
    group.items.append(b);
  }
  group.hidden = false;
  return group;
}

/** @param {RenderProps<ViewerState>} props */
async function render({ model, el: root }) {
  await stateComplete(model);
  root.classList.add("dt-viewer");
  root.tabIndex = 0;
  // Lumino (JupyterLab) leaves keys to us inside the viewer: arrows scroll slices, not cells.
  root.dataset.lmSuppressShortcuts = "true";

  /** @type {{scene: Scene, controls: ReturnType<typeof standardControls>, viewport: Viewport} | null} */
  let parts = null;

  function build() {
    const scene = new Scene(model);
    const controls = standardControls(scene, root);
    const viewport = new Viewport(scene, {
      showFused: true,
      cursorLine: controls.cursorLine,
      onStatus: (vp) => controls.update(vp),
    });
    const series = seriesGroup(model);
    widgetLayout(root, {
      main: [viewport.root, controls.slider, controls.readout, controls.cursorLine],
      side: series ? [series, controls.toolbar] : [controls.toolbar],
    });
    viewport.toolChanged();
    viewport.draw();
    parts = { scene, controls, viewport };
  }

  function teardown() {
    if (!parts) return;
    parts.controls.destroy();
    parts.viewport.destroy();
    parts.scene.destroy();
    parts = null;
    root.replaceChildren();
  }

  // Another series of the study: new geometry, presets and planes, so new controls.
  const rebuild = () => {
    teardown();
    build();
  };
  model.on("change:volume_token", rebuild);
  build();

  return () => {
    model.off("change:volume_token", rebuild);
    teardown();
  };
}

/** @type {WidgetModule<ViewerState>} */
export default { render };
