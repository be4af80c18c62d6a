// dicomteach Viewer: one viewport with the standard controls (core.js).

function render({ model, el }) {
  el.classList.add("dt-viewer");
  el.tabIndex = 0;
  // Lumino (JupyterLab) leaves keys to us inside the viewer: arrows scroll slices, not cells.
  el.dataset.lmSuppressShortcuts = "true";

  const scene = new Scene(model);
  const controls = standardControls(scene, el);
  const viewport = new Viewport(scene, {
    showFused: true,
    cursorLine: controls.cursorLine,
    onStatus: (vp) => controls.update(vp),
  });
  el.append(controls.toolbar, viewport.root, controls.slider, controls.readout, controls.cursorLine);
  viewport.toolChanged();
  viewport.draw();

  const handlers = {};
  const names = ["window_center", "window_width", "voi_function", "voi_table", "position",
    "plane", "zoom", "pan", "tool", "measurements", "labels", "overlay_opacity",
    "overlay_mode", "overlay_visible", "error", "description"];
  for (const name of names) {
    handlers[name] = () => scene.fromModel(name);
    model.on(`change:${name}`, handlers[name]);
  }
  const onLayers = () => {
    scene.readState();
    scene.syncLayers();
    scene.redraw();
  };
  model.on("change:layers", onLayers);

  return () => {
    controls.togglePlay(false);
    for (const name of names) model.off(`change:${name}`, handlers[name]);
    model.off("change:layers", onLayers);
    viewport.destroy();
    scene.destroy();
  };
}

export default { render };
