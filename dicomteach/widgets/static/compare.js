// dicomteach Compare (widgets/compare.py): a baseline (layer "image") and its follow-up
// (layer "after", registered and resampled onto the baseline's grid in Python) side by
// side, swiped, flickered, as a checkerboard or as a difference. This module builds the
// controls; compare/state.js holds the comparison, compare/viewport.js draws it.

import { el, button } from "./core/dom.js";
import { format, fixed } from "./core/format.js";
import { Scene } from "./core/scene.js";
import { stateComplete } from "./core/sync.js";
import { controlGroup, widgetLayout, standardControls } from "./core/controls.js";
import { Comparison } from "./compare/state.js";
import { CompareViewport } from "./compare/viewport.js";

/** @import { RenderProps, WidgetModule } from "./anywidget" */
/** @import { CompareState } from "./compare/state.js" */

/** [mode, button label, key, title] @type {[string, string, string, string][]} */
const COMPARE_MODES = [
  ["side-by-side", "Side by side", "b", "Both images side by side, linked (key b)"],
  ["swipe", "Swipe", "w", "The follow-up right of a divider: drag it, or ←/→ (key w)"],
  ["flicker", "Flicker", "f", "The two images in turn: space pauses, f flips (key f)"],
  ["checkerboard", "Checkerboard", "k", "Squares of each image: [ and ] resize (key k)"],
  ["difference", "Difference", "d",
    "Follow-up − baseline, windowed on its own: drag W/L; g: signed or |Δ| (key d)"],
];

/**
 * @param {string} className
 * @param {string} label
 * @param {number} min
 * @param {number} max
 * @param {number} step
 */
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

/** @param {RenderProps<CompareState>} props */
async function render({ model, el: root }) {
  await stateComplete(model);
  root.classList.add("dt-viewer", "dt-compare");
  root.tabIndex = 0;
  // Lumino (JupyterLab) leaves keys to us inside the widget: arrows scroll slices, not cells.
  root.dataset.lmSuppressShortcuts = "true";

  const scene = new Scene(model);
  let refresh = () => {};
  const state = new Comparison(scene, model, () => refresh());
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

  /** @param {string} mode */
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
  /** @param {KeyboardEvent} event */
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
    /** @type {Record<string, number>} */
    const last = {};
    scene.measurements.forEach((m, i) => {
      const where = m.side ? ` on ${state.sideName(m.side)}` : "";
      let text = "";
      if (m.kind === "ruler") {
        const length = /** @type {number} */ (m.length_mm);
        text = `${i + 1}. Ruler${where}: ${fixed(length, 1)} mm`;
        if (m.side) last[m.side] = length;
      } else if (m.kind === "ellipse") {
        const st = m.stats || {};
        const values = ["before", "after"].filter((s) => st[s])
          .map((s) => `${state.sideName(s)} ${format(st[s].mean, 1)}${u}`).join(", ");
        text = `${i + 1}. Ellipse${where}: mean ${values || format(/** @type {number} */ (m.mean), 1) + u}`;
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

/** @type {WidgetModule<CompareState>} */
export default { render };
