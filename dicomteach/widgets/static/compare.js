// dicomteach Compare: a baseline (layer "image") and its follow-up (layer "after",
// registered and resampled onto the baseline's grid in Python) side by side, swiped,
// flickered, as a checkerboard or as a difference. Joined after core.js (Scene,
// Viewport, standardControls, drawImage, displayValue…); the pixel rules of the
// difference and the checkerboard are dicomteach/widgets/compare.py's
// difference_display and checkerboard_mask.

// [mode, button label, key, title]
const COMPARE_MODES = [
  ["side-by-side", "Side by side", "b", "Both images side by side, linked (key b)"],
  ["swipe", "Swipe", "w", "The follow-up right of a divider: drag it, or ←/→ (key w)"],
  ["flicker", "Flicker", "f", "The two images in turn: space pauses, f flips (key f)"],
  ["checkerboard", "Checkerboard", "k", "Squares of each image: [ and ] resize (key k)"],
  ["difference", "Difference", "d",
    "Follow-up − baseline, windowed on its own: drag W/L; g: signed or |Δ| (key d)"],
];

// after − before of every displayed pixel, windowed (LINEAR_EXACT: a difference equal
// to the center is 127.5, drawn 128) and coloured with the diverging table, or |Δ| in grey.
// view.invert (MONOCHROME1) flips the signed map's 8-bit value so red stays "brighter".
function drawDifference(before, after, layout, s, view, out) {
  const rows = layout.rows, cols = layout.cols;
  const { base, dR, dC } = walker(layout, before.shape, s);
  const cmap = view.colormap;
  let j = 0;
  for (let r = 0; r < rows; r++) {
    let p = base + r * dR;
    for (let c = 0; c < cols; c++, p += dC, j += 4) {
      let d = after.value(p) - before.value(p);
      if (view.absolute) d = Math.abs(d);
      const v = displayValue(d, view.center, view.width, "LINEAR_EXACT",
        view.invert && !view.absolute);
      if (view.absolute || !cmap) {
        out[j] = v;
        out[j + 1] = v;
        out[j + 2] = v;
      } else {
        out[j] = cmap[3 * v];
        out[j + 1] = cmap[3 * v + 1];
        out[j + 2] = cmap[3 * v + 2];
      }
      out[j + 3] = 255;
    }
  }
}

// Does displayed pixel (r, c) show the follow-up? Squares of sizeMm from the top-left
// corner, by the pixel's centre; the top-left square shows the baseline.
function checkerAfter(layout, r, c, sizeMm) {
  const sr = Math.floor(((r + 0.5) * layout.row_spacing) / sizeMm);
  const sc = Math.floor(((c + 0.5) * layout.col_spacing) / sizeMm);
  return (sr + sc) % 2 === 1;
}

// Copy the follow-up's pixels into the baseline's picture on the odd squares.
function composeCheckerboard(out, afterRGBA, layout, sizeMm) {
  const rows = layout.rows, cols = layout.cols;
  for (let r = 0; r < rows; r++) {
    const sr = Math.floor(((r + 0.5) * layout.row_spacing) / sizeMm);
    for (let c = 0; c < cols; c++) {
      const sc = Math.floor(((c + 0.5) * layout.col_spacing) / sizeMm);
      if ((sr + sc) % 2 !== 1) continue;
      const j = 4 * (r * cols + c);
      out[j] = afterRGBA[j];
      out[j + 1] = afterRGBA[j + 1];
      out[j + 2] = afterRGBA[j + 2];
      out[j + 3] = afterRGBA[j + 3];
    }
  }
}

const SIDE_LAYERS = { before: "image", after: "after" };

// One picture of a Compare: the baseline viewport (every mode) or the follow-up one
// (side by side only). Measurements carry the side they were drawn on.
class CompareViewport extends Viewport {
  constructor(scene, compare, options) {
    super(scene, options);
    this.compare = compare;
    this.side = options.side;
    this.baseLayer = this.imageLayer;
    this.root.classList.add("dt-compare-viewport");
    this.root.dataset.side = this.side;
    // Swipe: the follow-up over the baseline, clipped right of the divider.
    this.afterCanvas = this.addCanvas("after", "dt-compare-after-canvas", { after: "image", windowed: true });
    this.divider = el("div", "dt-compare-divider");
    this.divider.hidden = true;
    this.divider.title = "Drag to move the divider (←/→ keys)";
    this.divider.append(
      el("div", "dt-compare-divider-line"),
      el("div", "dt-compare-divider-handle"),
      el("div", "dt-compare-divider-tag dt-compare-divider-left"),
      el("div", "dt-compare-divider-tag dt-compare-divider-right"),
    );
    this.marker = el("div", "dt-compare-marker");
    this.marker.hidden = true;
    this.root.append(this.divider, this.marker);
    this.listenDivider();
  }

  get mode() {
    return this.side === "before" ? this.compare.mode : "side-by-side";
  }

  // ---- drawing

  draw(which) {
    if (!this.compare) return;
    const mode = this.mode;
    this.imageLayer = mode === "flicker" ? this.compare.flickerLayer : this.baseLayer;
    super.draw(which);
    if (this.stale) return;
    this.canvas.dataset.mode = mode;
    this.canvas.dataset.layer = this.imageLayer;
    this.updateSwipe();
  }

  // Checkerboard and difference mix both layers on the image canvas; swipe draws the
  // follow-up on its own canvas; side by side and flicker draw one layer (core.js).
  drawImageLayer(name, layout, s) {
    const scene = this.scene;
    const mode = this.mode;
    const before = scene.layers.get("image");
    const after = scene.layers.get("after");
    if (name === "after") {
      if (mode !== "swipe" || !after) return false;
      drawImage(after, layout, s, this.imageView(after), this.pixels(name));
      return true;
    }
    if (name !== "image" || !before || !after || (mode !== "checkerboard" && mode !== "difference")) {
      return super.drawImageLayer(name, layout, s);
    }
    const out = this.pixels(name);
    const ds = this.canvas.dataset;
    if (mode === "checkerboard") {
      drawImage(before, layout, s, this.imageView(before), out);
      if (!this.scratch || this.scratch.length !== out.length) this.scratch = new Uint8ClampedArray(out.length);
      drawImage(after, layout, s, this.imageView(after), this.scratch);
      const size = this.compare.checkerMm;
      composeCheckerboard(out, this.scratch, layout, size);
      ds.checkerMm = String(size);
    } else {
      const view = { ...this.compare.differenceView(), invert: !!before.info.inverted };
      drawDifference(before, after, layout, s, view, out);
      ds.differenceCenter = String(view.center);
      ds.differenceWidth = String(view.width);
      ds.differenceStyle = view.absolute ? "absolute" : "signed";
    }
    return true;
  }

  // Every mode but side by side shows both images in this viewport.
  neededLayers() {
    return this.mode === "side-by-side" ? super.neededLayers() : ["image", "after"];
  }

  place() {
    super.place();
    if (this.compare && this.scene.layout) this.updateSwipe();
  }

  // The divider at `swipe` of the viewport's width; the follow-up clipped to its right.
  updateSwipe() {
    const on = this.mode === "swipe";
    this.divider.hidden = !on;
    if (!on) {
      this.afterCanvas.style.clipPath = "";
      delete this.canvas.dataset.swipeColumn;
      return;
    }
    const f = this.swipeFraction();
    this.afterCanvas.style.clipPath = `inset(0 0 0 ${(100 * f).toFixed(4)}%)`;
    this.divider.style.left = `${100 * this.compare.swipe}%`;
    this.canvas.dataset.swipeColumn = String(f * this.scene.layout.cols);
    const [l0, l1] = this.compare.labels;
    this.divider.querySelector(".dt-compare-divider-left").textContent = `◂ ${l0}`;
    this.divider.querySelector(".dt-compare-divider-right").textContent = `${l1} ▸`;
  }

  // Where the divider crosses the image, as a fraction of the image's width.
  swipeFraction() {
    const root = this.root.getBoundingClientRect();
    const rect = this.canvas.getBoundingClientRect();
    if (!rect.width) return this.compare.swipe;
    const x = root.left + this.compare.swipe * root.width;
    return Math.min(1, Math.max(0, (x - rect.left) / rect.width));
  }

  listenDivider() {
    const d = this.divider;
    let dragging = false;
    const moveTo = (event) => {
      const root = this.root.getBoundingClientRect();
      this.compare.setSwipe((event.clientX - root.left) / root.width);
    };
    d.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      dragging = true;
      this.compare.dragging = true;
      d.setPointerCapture(event.pointerId);
      this.root.closest(".dt-viewer")?.focus({ preventScroll: true });
      moveTo(event);
      event.preventDefault();
      event.stopPropagation();
    });
    d.addEventListener("pointermove", (event) => {
      if (dragging) moveTo(event);
    });
    const end = (event) => {
      if (!dragging) return;
      dragging = false;
      this.compare.dragging = false;
      if (d.hasPointerCapture(event.pointerId)) d.releasePointerCapture(event.pointerId);
      this.scene.scheduleSend();
      event.stopPropagation();
    };
    d.addEventListener("pointerup", end);
    d.addEventListener("pointercancel", end);
  }

  // ---- texts

  status() {
    super.status();
    if (!this.compare) return;
    const [l0, l1] = this.compare.labels;
    const mode = this.mode;
    const titles = {
      "side-by-side": this.side === "after" ? l1 : l0,
      flicker: this.imageLayer === "after" ? l1 : l0,
      swipe: `${l0} | ${l1}`,
      checkerboard: `${l0} / ${l1}`,
      difference: `${l1} − ${l0}`,
    };
    this.corners.tl.textContent = titles[mode];
    this.root.setAttribute("aria-label", titles[mode]);
    if (mode === "difference") {
      const view = this.compare.differenceView();
      const units = this.scene.model.get("units");
      this.corners.bl.textContent = `${view.absolute ? "|Δ|" : "Δ"} W ${format(view.width)} ` +
        `L ${format(view.center)}${units ? " " + units : ""}`;
    }
  }

  // Both images' values under the cursor, and their difference.
  cursorText() {
    const c = this.cursor;
    if (!c || !this.compare) return "";
    const scene = this.scene;
    const units = scene.model.get("units");
    const u = units ? " " + units : "";
    const [l0, l1] = this.compare.labels;
    const b = scene.valueAt("image", c.index);
    const a = scene.valueAt("after", c.index);
    const parts = [];
    if (b !== null) parts.push(`${l0} ${format(b, 1)}${u}`);
    if (a !== null) parts.push(`${l1} ${format(a, 1)}${u}`);
    if (a !== null && b !== null) {
      const d = a - b;
      parts.push(`Δ ${d > 0 ? "+" : ""}${format(d, 1)}${u}`);
    }
    let text = parts.join(" · ");
    if (scene.model.get("geometry_known")) {
      const p = scene.toPatient(c.index);
      text += ` · (${p.map((x) => fixed(x, 1)).join(", ")}) mm`;
    }
    return text;
  }

  // ---- measurements: tagged with the side, ellipse statistics on both images

  // The image under display point p: what a measurement started there was drawn on.
  sideAt(p) {
    const mode = this.mode;
    if (mode === "side-by-side") return this.side;
    if (mode === "flicker") return this.imageLayer === "after" ? "after" : "before";
    if (mode === "difference") return "difference";
    if (mode === "swipe") {
      return p.x < this.swipeFraction() * this.scene.layout.cols ? "before" : "after";
    }
    return checkerAfter(this.scene.layout, Math.floor(p.y), Math.floor(p.x), this.compare.checkerMm)
      ? "after" : "before";
  }

  measure(kind, p0, p1) {
    const m = super.measure(kind, p0, p1);
    m.side = this.sideAt(p0);
    if (kind === "ellipse") {
      m.stats = {};
      for (const [side, layer] of Object.entries(SIDE_LAYERS)) {
        const st = this.ellipseStats(p0, p1, layer);
        m.stats[side] = { mean: st.mean, sd: st.sd, n: st.n };
      }
      const own = m.stats[m.side === "after" ? "after" : "before"];
      Object.assign(m, own);
    }
    return m;
  }

  // The side this viewport shows on its own, or null when it mixes both.
  shownSide() {
    const mode = this.mode;
    if (mode === "side-by-side") return this.side;
    if (mode === "flicker") return this.imageLayer === "after" ? "after" : "before";
    return null;
  }

  // Drawn on the other image: dashed (compare.css), its ruler length not written again.
  measurementAttributes(m) {
    if (!m.side || !this.compare) return {};
    const mine = this.shownSide();
    return { "data-side": m.side, className: mine && m.side !== mine ? "dt-compare-other" : "" };
  }

  measurementLabel(m) {
    if (!m.side || !this.compare) return super.measurementLabel(m);
    const mine = this.shownSide();
    const name = (side) => this.compare.sideName(side);
    if (m.kind === "ruler") {
      // Its length is the same in mm on both sides: written once, where it was drawn,
      // so rulers across the same lesion on each side do not write over each other.
      return mine && m.side !== mine ? [] : [`${name(m.side)}: ${fixed(m.length_mm, 1)} mm`];
    }
    if (m.kind === "ellipse" && m.stats) {
      const units = this.scene.model.get("units");
      const u = units ? " " + units : "";
      const lines = (mine ? [mine] : ["before", "after"]).map((side) => {
        const st = m.stats[side];
        return `${name(side)} mean ${format(st.mean, 1)} SD ${format(st.sd, 1)}${u}`;
      });
      lines.push(`area ${format(m.area_mm2, 1)} mm² (${m.n} px)`);
      return lines;
    }
    return super.measurementLabel(m);
  }

  // ---- difference window by left-drag in difference mode

  down(event) {
    super.down(event);
    const g = this.gesture;
    if (g && g.kind === "wl" && this.mode === "difference") {
      g.difference = { center: this.compare.differenceCenter, width: this.compare.differenceWidth };
      this.compare.dragging = true;
    }
  }

  move(event) {
    const g = this.gesture;
    if (g && g.difference) {
      const step = this.dragStep();
      const dx = event.clientX - g.x, dy = event.clientY - g.y;
      this.compare.setDifferenceWindow(g.difference.center + dy * step, g.difference.width + dx * step);
      return;
    }
    super.move(event);
  }

  up(event, cancelled = false) {
    const g = this.gesture;
    super.up(event, cancelled);
    if (g && g.difference) {
      this.compare.dragging = false;
      this.scene.scheduleSend();
    }
  }

  // A small cross where the cursor is on the other viewport.
  showMarker(p) {
    if (!p || this.hidden) {
      this.marker.hidden = true;
      return;
    }
    const [x, y] = this.toScreen(p.x, p.y);
    this.marker.style.left = `${x}px`;
    this.marker.style.top = `${y}px`;
    this.marker.hidden = false;
  }
}

// State of the comparison (mode, divider, flicker, checkerboard, difference window)
// shared by the viewports, kept in step with the model through the scene (track).
class CompareState {
  constructor(scene, onChange) {
    const model = scene.model;
    this.scene = scene;
    this.model = model;
    this.onChange = onChange;
    this.mode = model.get("mode");
    this.flickerLayer = "image";
    this.timer = null;
    // The divider or the difference window under the mouse: sent when the drag ends.
    this.dragging = false;
    this.viewports = [];
    this.initialDifference = {
      center: model.get("difference_center"), width: model.get("difference_width"),
    };
    this.labels = model.get("series_labels");
    this.table = model.get("difference_table");
    this.swipe = model.get("swipe");
    this.checkerMm = model.get("checker_mm");
    this.flickerRate = model.get("flicker_rate");
    this.flickerPlaying = model.get("flicker_playing");
    this.differenceCenter = model.get("difference_center");
    this.differenceWidth = model.get("difference_width");
    this.differenceStyle = model.get("difference_style");
    const unlessDragging = (value) => () => (this.dragging ? undefined : value());
    scene.track("swipe", unlessDragging(() => this.swipe), (v) => {
      if (!this.dragging) this.setSwipe(v);
    });
    scene.track("difference_center", unlessDragging(() => this.differenceCenter),
      (v) => this.setDifferenceWindow(v, this.differenceWidth));
    scene.track("difference_width", unlessDragging(() => this.differenceWidth),
      (v) => this.setDifferenceWindow(this.differenceCenter, v));
    scene.track("difference_style", () => this.differenceStyle, (v) => {
      this.differenceStyle = v;
      this.redrawMain();
      this.onChange();
    });
    scene.track("checker_mm", () => this.checkerMm, (v) => {
      this.checkerMm = v;
      this.redrawMain();
      this.onChange();
    });
    scene.track("flicker_rate", () => this.flickerRate, (v) => {
      this.flickerRate = v;
      this.runFlicker();
    });
    scene.track("flicker_playing", () => this.flickerPlaying, (v) => {
      this.flickerPlaying = v;
      this.runFlicker();
    });
    scene.watch(["series_labels", "difference_table"], () => {
      this.labels = model.get("series_labels");
      this.table = model.get("difference_table");
      scene.redraw();
      this.onChange();
    });
    scene.watch(["alignment"], () => this.onChange());
  }

  sideName(side) {
    return side === "before" ? this.labels[0] : side === "after" ? this.labels[1] : "Δ";
  }

  differenceView() {
    return {
      center: this.differenceCenter, width: this.differenceWidth,
      absolute: this.differenceStyle === "absolute", colormap: this.table,
    };
  }

  setSwipe(f) {
    this.swipe = Math.min(1, Math.max(0, f));
    for (const vp of this.viewports) vp.updateSwipe();
    this.scene.scheduleSend();
    this.onChange();
  }

  setDifferenceWindow(center, width) {
    width = Math.max(width, 1e-6);
    const changed = center !== this.differenceCenter || width !== this.differenceWidth;
    this.differenceCenter = center;
    this.differenceWidth = width;
    if (changed) this.redrawMain();
    this.scene.scheduleSend();
    this.onChange();
  }

  setDifferenceStyle(style) {
    this.differenceStyle = style;
    // |Δ| starts black at 0; the signed map is centred on 0 (as the kernel does too)
    this.differenceCenter = style === "absolute" ? this.differenceWidth / 2 : 0;
    this.redrawMain();
    this.scene.scheduleSend();
    this.onChange();
  }

  setCheckerMm(size) {
    this.checkerMm = Math.max(0.1, size);
    this.redrawMain();
    this.scene.scheduleSend();
    this.onChange();
  }

  setFlicker(values) {
    Object.assign(this, values);
    this.runFlicker();
    this.scene.scheduleSend();
  }

  flip() {
    this.flickerLayer = this.flickerLayer === "image" ? "after" : "image";
    this.redrawMain();
  }

  // Alternate automatically while in flicker mode and playing.
  runFlicker() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.mode === "flicker" && this.flickerPlaying) {
      this.timer = setInterval(() => this.flip(), 1000 / this.flickerRate);
    }
    this.onChange();
  }

  redrawMain() {
    const main = this.viewports[0];
    if (main) main.draw(["image"]);
  }

  // The cursor moved on one viewport: a cross at the same place on the others.
  hover(source) {
    for (const vp of this.viewports) if (vp !== source) vp.showMarker(source.cursor);
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

function rangeInput(className, label, min, max, step) {
  const input = el("input", className);
  input.type = "range";
  input.min = String(min);
  input.max = String(max);
  input.step = String(step);
  input.title = label;
  input.setAttribute("aria-label", label);
  return input;
}

async function render({ model, el: root }) {
  await stateComplete(model);
  root.classList.add("dt-viewer", "dt-compare");
  root.tabIndex = 0;
  // Lumino (JupyterLab) leaves keys to us inside the widget: arrows scroll slices, not cells.
  root.dataset.lmSuppressShortcuts = "true";

  const scene = new Scene(model);
  let refresh = () => {};
  const state = new CompareState(scene, () => refresh());
  scene.track("mode", () => state.mode, (mode) => setMode(mode));

  // ---- the modes, then the current mode's own controls
  const modeButtons = new Map();
  for (const [mode, label, , title] of COMPARE_MODES) {
    const b = button(label, title, () => setMode(mode));
    b.dataset.mode = mode;
    modeButtons.set(mode, b);
  }
  const modeGroup = controlGroup("Compare", [...modeButtons.values()], "dt-compare-modes");

  const swipeInput = rangeInput("dt-compare-swipe", "Divider position (←/→)", 0, 100, 1);
  swipeInput.addEventListener("input", () => state.setSwipe(Number(swipeInput.value) / 100));
  const swipeGroup = controlGroup("Divider", [swipeInput], "dt-compare-options");
  swipeGroup.dataset.for = "swipe";

  const playButton = button("Pause", "Pause / play the flicker (space)", () => togglePlaying());
  playButton.dataset.action = "flicker-play";
  const flipButton = button("Flip", "Show the other image (key f)", () => flipByHand());
  flipButton.dataset.action = "flip";
  const rateInput = rangeInput("dt-compare-rate", "Images per second", 0.5, 8, 0.5);
  rateInput.addEventListener("input", () => state.setFlicker({ flickerRate: Number(rateInput.value) }));
  const rateText = el("span", "dt-compare-value");
  const flickerGroup = controlGroup("Flicker", [playButton, flipButton, rateInput, rateText],
    "dt-compare-options");
  flickerGroup.dataset.for = "flicker";

  const checkerInput = rangeInput("dt-compare-checker", "Square size (mm); [ and ]", 1, 100, 1);
  checkerInput.addEventListener("input", () => state.setCheckerMm(Number(checkerInput.value)));
  const checkerText = el("span", "dt-compare-value");
  const checkerGroup = controlGroup("Squares", [checkerInput, checkerText], "dt-compare-options");
  checkerGroup.dataset.for = "checkerboard";

  const styleButtons = new Map();
  for (const [style, label, title] of [
    ["signed", "Signed", "After − before: red brighter, blue darker (key g)"],
    ["absolute", "|Δ|", "|after − before| in grey (key g)"],
  ]) {
    const b = button(label, title, () => state.setDifferenceStyle(style));
    b.dataset.difference = style;
    styleButtons.set(style, b);
  }
  const differenceGroup = controlGroup("Difference", [...styleButtons.values()], "dt-compare-options");
  differenceGroup.dataset.for = "difference";
  const optionGroups = [swipeGroup, flickerGroup, checkerGroup, differenceGroup];

  const caption = el("div", "dt-compare-caption");
  caption.setAttribute("aria-live", "polite");

  // ---- the standard controls and the two viewports
  const controls = standardControls(scene, root, {
    onKey: (event) => onKey(event),
    onReset: () => resetDifference(),
  });
  controls.toolbar.prepend(modeGroup, ...optionGroups);
  const panes = el("div", "dt-compare-panes");
  const paneBefore = el("div", "dt-compare-pane");
  const paneAfter = el("div", "dt-compare-pane");
  const main = new CompareViewport(scene, state, {
    side: "before",
    cursorLine: controls.cursorLine,
    onStatus: (vp) => controls.update(vp),
    onCursor: (vp) => state.hover(vp),
  });
  const other = new CompareViewport(scene, state, {
    side: "after",
    imageLayer: "after",
    cursorLine: controls.cursorLine,
    onCursor: (vp) => state.hover(vp),
  });
  state.viewports = [main, other];
  paneBefore.append(main.root);
  paneAfter.append(other.root);
  panes.append(paneBefore, paneAfter);
  const measures = el("div", "dt-compare-measures");
  measures.setAttribute("aria-live", "polite");
  widgetLayout(root, {
    main: [panes, controls.slider, controls.readout, controls.cursorLine, caption, measures],
    side: [controls.toolbar],
  });

  function flipByHand() {
    if (state.mode !== "flicker") return setMode("flicker");
    if (state.flickerPlaying) state.setFlicker({ flickerPlaying: false });
    state.flip();
  }

  function togglePlaying() {
    state.setFlicker({ flickerPlaying: !state.flickerPlaying });
  }

  function setMode(mode) {
    if (!COMPARE_MODES.some(([m]) => m === mode)) return;
    state.mode = mode;
    if (mode !== "flicker") state.flickerLayer = "image";
    root.dataset.mode = mode;
    paneAfter.hidden = mode !== "side-by-side";
    state.runFlicker();
    scene.scheduleSend();
    for (const vp of state.viewports) {
      if (vp.hidden) vp.marker.hidden = true;
      else vp.place();
    }
    scene.redraw();
    refresh();
  }

  // Keys the standard controls leave: modes and the current mode's own.
  function onKey(event) {
    if (event.target instanceof HTMLInputElement && event.target !== root) return false;
    const key = event.key;
    const byKey = COMPARE_MODES.find(([, , k]) => k === key);
    if (key === "f" && state.mode === "flicker") flipByHand();
    else if (byKey) setMode(byKey[0]);
    else if (key === "m" || key === "M") {
      const i = COMPARE_MODES.findIndex(([m]) => m === state.mode);
      const n = COMPARE_MODES.length;
      setMode(COMPARE_MODES[(i + (key === "M" ? n - 1 : 1)) % n][0]);
    } else if (key === " " && state.mode === "flicker") togglePlaying();
    else if ((key === "ArrowLeft" || key === "ArrowRight") && state.mode === "swipe") {
      const step = (event.shiftKey ? 0.1 : 0.02) * (key === "ArrowLeft" ? -1 : 1);
      state.setSwipe(state.swipe + step);
    } else if ((key === "[" || key === "]") && state.mode === "checkerboard") {
      state.setCheckerMm(state.checkerMm * (key === "[" ? 1 / 1.25 : 1.25));
    } else if (key === "g" && state.mode === "difference") {
      state.setDifferenceStyle(state.differenceStyle === "absolute" ? "signed" : "absolute");
    } else return false;
    return true;
  }

  // "r" and Reset also reset the difference window.
  function resetDifference() {
    const d = state.initialDifference;
    if (state.differenceStyle === "absolute") state.setDifferenceWindow(d.width / 2, d.width);
    else state.setDifferenceWindow(d.center, d.width);
  }

  // ---- texts: caption, mode controls, measurement summary
  refresh = () => {
    const mode = state.mode;
    for (const [m, b] of modeButtons) b.setAttribute("aria-pressed", String(m === mode));
    for (const g of optionGroups) g.hidden = g.dataset.for !== mode;
    swipeInput.value = String(Math.round(state.swipe * 100));
    const playing = state.flickerPlaying;
    playButton.textContent = playing ? "Pause" : "Play";
    playButton.setAttribute("aria-pressed", String(playing));
    rateInput.value = String(state.flickerRate);
    rateText.textContent = `${format(state.flickerRate, 1)} /s`;
    root.dataset.flickering = state.timer ? "1" : "0";
    checkerInput.value = String(Math.round(state.checkerMm));
    checkerText.textContent = `${format(state.checkerMm, 1)} mm`;
    for (const [s, b] of styleButtons) {
      b.setAttribute("aria-pressed", String(s === state.differenceStyle));
    }
    caption.textContent = model.get("alignment");
    measures.replaceChildren(...summary());
  };
  scene.on("measurements", () => refresh());

  // One line per measurement, and the change of the last ruler of each side.
  function summary() {
    const units = model.get("units");
    const u = units ? " " + units : "";
    const lines = [];
    const last = {};
    scene.measurements.forEach((m, i) => {
      const where = m.side ? ` on ${state.sideName(m.side)}` : "";
      let text = "";
      if (m.kind === "ruler") {
        text = `${i + 1}. Ruler${where}: ${fixed(m.length_mm, 1)} mm`;
        if (m.side) last[m.side] = m.length_mm;
      } else if (m.kind === "ellipse") {
        const st = m.stats || {};
        const values = ["before", "after"].filter((s) => st[s])
          .map((s) => `${state.sideName(s)} ${format(st[s].mean, 1)}${u}`).join(", ");
        text = `${i + 1}. Ellipse${where}: mean ${values || format(m.mean, 1) + u}`;
      } else return;
      const line = el("div", "dt-compare-measure", text);
      line.dataset.index = String(i);
      lines.push(line);
    });
    if (last.before > 0 && last.after > 0) {
      const change = (100 * (last.after - last.before)) / last.before;
      const line = el("div", "dt-compare-growth",
        `Ruler: ${state.labels[0]} ${fixed(last.before, 1)} mm → ${state.labels[1]} ` +
        `${fixed(last.after, 1)} mm (${change >= 0 ? "+" : ""}${fixed(change, 0)} %)`);
      lines.push(line);
    }
    return lines;
  }

  main.toolChanged();
  other.toolChanged();
  setMode(state.mode);

  return () => {
    state.stop();
    controls.destroy();
    main.destroy();
    other.destroy();
    scene.destroy();
  };
}

export default { render };
