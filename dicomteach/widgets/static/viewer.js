// dicomteach Viewer: stored values arrive once; windowing is drawn here.
// No imports, no CDN (DESIGN.md decisions 1 and 2).

function storedArray(model) {
  const view = model.get("pixels");
  const Typed = model.get("dtype") === "uint16" ? Uint16Array : Int16Array;
  // Typed arrays read in platform byte order: little-endian on every browser we target.
  let buffer = view.buffer, offset = view.byteOffset;
  if (offset % 2 !== 0) {
    buffer = buffer.slice(offset, offset + view.byteLength);
    offset = 0;
  }
  return new Typed(buffer, offset, view.byteLength / 2);
}

function perFrame(list, frame) {
  return list.length === 1 ? list[0] : list[frame];
}

// The 8-bit rule of dicomteach/imaging/voi.py (module docstring), in float64,
// in the same order: window (PS3.3 C.11.2.1.2.1 LINEAR; C.11.2.1.3.2
// LINEAR_EXACT; C.11.2.1.3.1 SIGMOID) to 0..255, then round half up and clip
// with Math.min(255, Math.max(0, Math.floor(y + 0.5))), then MONOCHROME1
// inversion v = 255 - v after the rounding.
function displayValue(x, center, width, fn, invert) {
  let y;
  if (fn === "SIGMOID") {
    y = 255 / (1 + Math.exp(-4 * (x - center) / width)) + 0;
  } else {
    const c1 = fn === "LINEAR" ? center - 0.5 : center;
    const w1 = fn === "LINEAR" ? width - 1 : width;
    if (x <= c1 - w1 / 2) y = 0;
    else if (x > c1 + w1 / 2) y = 255;
    else y = ((x - c1) / w1 + 0.5) * 255 + 0;
  }
  const v = Math.min(255, Math.max(0, Math.floor(y + 0.5)));
  return invert ? 255 - v : v;
}

function format(n) {
  return Number.isInteger(n) ? String(n) : String(Math.round(n * 100) / 100);
}

function button(label, title, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "dt-viewer-button";
  b.textContent = label;
  b.title = title;
  b.addEventListener("click", onClick);
  return b;
}

function render({ model, el }) {
  const [frames, rows, cols] = model.get("shape");
  let stored = storedArray(model);
  const slopes = () => model.get("rescale_slope");
  const intercepts = () => model.get("rescale_intercept");

  // Drag sensitivity: the stored range of the whole volume over ~1000 screen pixels.
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < stored.length; i++) {
    const s = stored[i];
    if (s < lo) lo = s;
    if (s > hi) hi = s;
  }
  const slopeMax = Math.max(...slopes().map(Math.abs));
  const dragStep = Math.max(((hi - lo) * slopeMax) / 1000, 1e-6);

  el.classList.add("dt-viewer");
  el.tabIndex = 0;
  // Lumino (JupyterLab) leaves keys to us inside the viewer: arrows scroll slices, not cells.
  el.dataset.lmSuppressShortcuts = "true";

  const canvas = document.createElement("canvas");
  canvas.className = "dt-viewer-canvas";
  canvas.width = cols;
  canvas.height = rows;
  const [, rowSpacing, colSpacing] = model.get("spacing");
  canvas.style.aspectRatio = `${cols * colSpacing} / ${rows * rowSpacing}`;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(cols, rows);

  const readout = document.createElement("div");
  readout.className = "dt-viewer-readout";

  const slider = document.createElement("input");
  slider.type = "range";
  slider.className = "dt-viewer-slider";
  slider.min = "0";
  slider.max = String(frames - 1);
  slider.step = "1";
  slider.title = "Slice (wheel or ↑/↓)";
  slider.disabled = frames < 2;

  const toolbar = document.createElement("div");
  toolbar.className = "dt-viewer-toolbar";
  const presets = model.get("presets");
  presets.forEach((p, i) => {
    const b = button(p.name, `W ${format(p.width)} L ${format(p.center)} (key ${i + 1})`, () =>
      setWindow(p.center, p.width, p.function, true),
    );
    b.dataset.preset = p.name;
    toolbar.appendChild(b);
  });
  const reset = button("Reset", "Initial window and middle slice (key r)", resetView);
  reset.dataset.action = "reset";
  toolbar.appendChild(reset);

  el.append(toolbar, canvas, slider, readout);

  // Local state: drawn at once, sent to Python at most once per animation frame.
  let center = model.get("window_center");
  let width = model.get("window_width");
  let fn = model.get("voi_function");
  let frame = model.get("frame");
  let sendScheduled = false;
  let sending = false;

  function draw() {
    const slope = perFrame(slopes(), frame);
    const intercept = perFrame(intercepts(), frame);
    const invert = model.get("inverted");
    const start = frame * rows * cols;
    const data = image.data;
    for (let i = 0, n = rows * cols; i < n; i++) {
      // Modality LUT in float64: stored * slope + intercept (PS3.3 C.11.1).
      const x = stored[start + i] * slope + intercept;
      const v = displayValue(x, center, width, fn, invert);
      const j = 4 * i;
      data[j] = v;
      data[j + 1] = v;
      data[j + 2] = v;
      data[j + 3] = 255;
    }
    ctx.putImageData(image, 0, 0);
    slider.value = String(frame);
    const units = model.get("units");
    readout.textContent =
      `W ${format(width)} L ${format(center)}${units ? " " + units : ""}` +
      ` · slice ${frame + 1}/${frames}`;
    canvas.dataset.frame = String(frame);
    canvas.dataset.center = String(center);
    canvas.dataset.width = String(width);
    canvas.dataset.rendered = "1";
  }

  function scheduleSend() {
    if (sendScheduled) return;
    sendScheduled = true;
    requestAnimationFrame(() => {
      sendScheduled = false;
      // Each set fires change events; the view already shows this state, so they
      // must not read half-updated traits back into it.
      sending = true;
      model.set("window_center", center);
      model.set("window_width", width);
      model.set("voi_function", fn);
      model.set("frame", frame);
      sending = false;
      model.save_changes();
    });
  }

  function setWindow(c, w, f, send) {
    center = c;
    width = f === "LINEAR" ? Math.max(1, w) : Math.max(w, 1e-6);
    fn = f;
    draw();
    if (send) scheduleSend();
  }

  function setFrame(f) {
    const next = Math.min(frames - 1, Math.max(0, Math.round(f)));
    if (next === frame) return;
    frame = next;
    draw();
    scheduleSend();
  }

  function resetView() {
    const w = model.get("initial_window");
    frame = Math.floor(frames / 2);
    setWindow(w.center, w.width, w.function, true);
  }

  canvas.addEventListener(
    "wheel",
    (event) => {
      event.preventDefault();
      if (event.deltaY !== 0) setFrame(frame + Math.sign(event.deltaY));
    },
    { passive: false },
  );
  slider.addEventListener("input", () => setFrame(Number(slider.value)));

  el.addEventListener("keydown", (event) => {
    if (event.target === slider && event.key.startsWith("Arrow")) return;
    let handled = true;
    if (event.key === "ArrowDown") setFrame(frame + 1);
    else if (event.key === "ArrowUp") setFrame(frame - 1);
    else if (event.key === "r") resetView();
    else if (/^[1-9]$/.test(event.key) && presets[Number(event.key) - 1]) {
      const p = presets[Number(event.key) - 1];
      setWindow(p.center, p.width, p.function, true);
    } else handled = false;
    if (handled) {
      event.preventDefault();
      event.stopPropagation();
    }
  });

  let drag = null;
  canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    el.focus();
    drag = { x: event.clientX, y: event.clientY, center, width };
    canvas.setPointerCapture(event.pointerId);
    event.preventDefault();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drag) return;
    // OHIF/Cornerstone habit: horizontal drag sets the width, vertical the center.
    const w = drag.width + (event.clientX - drag.x) * dragStep;
    const c = drag.center + (event.clientY - drag.y) * dragStep;
    setWindow(c, w, fn, true);
  });
  const endDrag = (event) => {
    if (!drag) return;
    drag = null;
    if (canvas.hasPointerCapture(event.pointerId)) canvas.releasePointerCapture(event.pointerId);
  };
  canvas.addEventListener("pointerup", endDrag);
  canvas.addEventListener("pointercancel", endDrag);

  // Changes from Python (or another view of the same model): redraw, never re-send.
  const fromModel = () => {
    if (sending) return;
    center = model.get("window_center");
    width = model.get("window_width");
    fn = model.get("voi_function");
    frame = Math.min(frames - 1, Math.max(0, model.get("frame")));
    draw();
  };
  const onPixels = () => {
    stored = storedArray(model);
    draw();
  };
  const names = ["window_center", "window_width", "voi_function", "frame", "inverted",
    "rescale_slope", "rescale_intercept"];
  for (const name of names) model.on(`change:${name}`, fromModel);
  model.on("change:pixels", onPixels);

  draw();
  return () => {
    for (const name of names) model.off(`change:${name}`, fromModel);
    model.off("change:pixels", onPixels);
  };
}

export default { render };
