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
  widgetLayout(el, {
    main: [viewport.root, controls.slider, controls.readout, controls.cursorLine],
    side: [controls.toolbar],
  });
  viewport.toolChanged();
  viewport.draw();

  return () => {
    controls.destroy();
    viewport.destroy();
    scene.destroy();
  };
}

export default { render };
