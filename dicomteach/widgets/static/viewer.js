// dicomteach Viewer (widgets/viewer.py): one viewport with the standard controls, and
// for a study of several series a thumbnail strip to switch between them.

import { el, button } from "./core/dom.js";
import { Scene } from "./core/scene.js";
import { stateComplete, ModelSync } from "./core/sync.js";
import { Viewport } from "./core/viewport.js";
import { controlGroup, widgetLayout, standardControls } from "./core/controls.js";
import { LiveSession } from "./live/session.js";

/** @import { AnyModel, RenderProps, WidgetModule } from "./anywidget" */
/** @import { LiveTraits } from "./live/session.js" */

/**
 * Viewer's own synced traits: the series of a study, the one on screen, and a token
 * that changes when another series' volume is in.
 * @typedef {LiveTraits & {
 *   series: {index: number, label: string, thumbnail: string, uid?: string}[],
 *   series_index: number,
 *   volume_token: number,
 * }} ViewerState
 */

/**
 * The series buttons: a thumbnail and a label each; the one on screen pressed.
 * @param {AnyModel<ViewerState>} model
 * @param {ModelSync} sync the scene's: a pick goes after what the view changed before
 * @param {() => void} [onPick] called before another series is asked for
 */
function seriesGroup(model, sync, onPick = () => {}) {
  const list = model.get("series");
  if (list.length < 2) return null;
  // the count says how many there are when the list scrolls
  const group = controlGroup(`Series (${list.length})`, [], "dt-series");
  for (const item of list) {
    const b = button("", `Show ${item.label}`, () => {
      if (sync.get("series_index") === item.index) return;
      onPick();
      sync.set({ series_index: item.index }, false);
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

/**
 * The overlay's legend: each structure's colour and name, a box to show or hide it,
 * and outline or fill. Kept in step with label_info (a new overlay from the kernel).
 * @param {AnyModel<ViewerState>} model
 * @param {ModelSync} sync the scene's, which sets what the boxes change
 */
function overlayGroup(model, sync) {
  const group = controlGroup("Overlay", [], "dt-overlay-legend");
  const fill = () => {
    const styles = model.get("label_info");
    group.hidden = !styles.length;
    const rows = styles.map((style, i) => {
      const row = el("label", "dt-structure dt-legend-item");
      row.classList.toggle("dt-hidden", style.visible === false);
      const show = el("input");
      show.type = "checkbox";
      show.checked = style.visible !== false;
      show.dataset.legend = style.name || String(style.value);
      show.addEventListener("change", () => {
        const styles = /** @type {ViewerState["label_info"]} */ (sync.get("label_info"));
        sync.set({ label_info: styles.map((s, j) => (j === i ? { ...s, visible: show.checked } : s)) });
      });
      const swatch = el("span", "dt-swatch");
      swatch.style.background = `rgb(${style.color.join(",")})`;
      row.append(show, swatch, el("span", "", style.name || `Label ${style.value}`));
      return row;
    });
    const outline = el("label", "dt-structure");
    const box = el("input");
    box.type = "checkbox";
    box.checked = model.get("overlay_mode") === "outline";
    box.dataset.action = "outline";
    box.addEventListener("change", () => {
      sync.set({ overlay_mode: box.checked ? "outline" : "fill" });
    });
    outline.append(box, el("span", "", "Outline only"));
    group.items.replaceChildren(...rows, ...(styles.length ? [outline] : []));
  };
  fill();
  model.on("change:label_info", fill);
  model.on("change:overlay_mode", fill);
  return {
    group,
    destroy: () => {
      model.off("change:label_info", fill);
      model.off("change:overlay_mode", fill);
    },
  };
}

/** @param {RenderProps<ViewerState>} props */
async function render({ model, el: root }) {
  await stateComplete(model);
  root.classList.add("dt-viewer");
  root.tabIndex = 0;
  // Lumino (JupyterLab) leaves keys to us inside the viewer: arrows scroll slices, not cells.
  root.dataset.lmSuppressShortcuts = "true";

  /** @type {{scene: Scene, controls: ReturnType<typeof standardControls>, viewport: Viewport, legend: ReturnType<typeof overlayGroup>, live: LiveSession} | null} */
  let parts = null;

  function build() {
    const scene = new Scene(model);
    const live = new LiveSession(scene, root);
    const controls = standardControls(scene, root);
    const viewport = new Viewport(scene, {
      showFused: true,
      cursorLine: controls.cursorLine,
      onStatus: (vp) => controls.update(vp),
    });
    const series = seriesGroup(model, scene.sync, () => live.ownMove()); // a follower looks around alone
    const legend = overlayGroup(model, scene.sync);
    live.attach(viewport);
    widgetLayout(root, {
      main: [live.panel.question, viewport.root, controls.slider, controls.readout, controls.cursorLine,
        live.panel.board.element],
      side: [...(series ? [series] : []), controls.toolbar, legend.group, live.group],
    });
    viewport.toolChanged();
    viewport.draw();
    parts = { scene, controls, viewport, legend, live };
  }

  function teardown() {
    if (!parts) return;
    parts.live.destroy();
    parts.legend.destroy();
    parts.controls.destroy();
    parts.viewport.destroy();
    parts.scene.destroy();
    parts = null;
    root.replaceChildren();
  }

  // Another series of the study: new geometry, presets and planes, so new controls;
  // what the view changed on the series before is not sent onto this one.
  const rebuild = () => {
    parts?.scene.sync.discard();
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
