// dicomteach Viewer: one viewport with the standard controls (core.js), and for a
// study of several series a thumbnail strip to switch between them.

// The series buttons: a thumbnail and a label each; the one on screen pressed.
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
    const img = el_("img", "dt-series-thumb");
    img.src = item.thumbnail;
    img.alt = "";
    b.append(img, el_("span", "dt-series-label", item.label));
    b.setAttribute("aria-pressed", String(item.index === model.get("series_index")));
    group.items.append(b);
  }
  group.hidden = false;
  return group;
}

async function render({ model, el }) {
  await stateComplete(model);
  el.classList.add("dt-viewer");
  el.tabIndex = 0;
  // Lumino (JupyterLab) leaves keys to us inside the viewer: arrows scroll slices, not cells.
  el.dataset.lmSuppressShortcuts = "true";

  let parts = null;

  function build() {
    const scene = new Scene(model);
    const controls = standardControls(scene, el);
    const viewport = new Viewport(scene, {
      showFused: true,
      cursorLine: controls.cursorLine,
      onStatus: (vp) => controls.update(vp),
    });
    const series = seriesGroup(model);
    widgetLayout(el, {
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
    el.replaceChildren();
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

export default { render };
