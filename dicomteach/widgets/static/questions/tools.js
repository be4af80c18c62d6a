// What the learner does with the mouse and keys on a Hotspot or LabelDrop image:
// click to place a marker (once the widget has the keys: the first click into it only
// gives them), drag one to move it (a LabelDrop marker dragged off the image goes back
// to its chip), Enter to place, arrows to nudge, Delete to remove.

/** @import { Answering } from "./answering.js" */
/** @import { Tool } from "../core/gestures.js" */
/** @import { Viewport, PointerPoint } from "../core/viewport.js" */

/**
 * The answer tool on the image (left button): place a marker, or grab one and drag it.
 * @param {Answering} a
 * @returns {Tool}
 */
export function answerTool(a) {
  return {
    down: (event, p, vp) => down(a, event, p, vp),
    move: (event, p, vp) => move(a, event, p, vp),
    up: (_event, _p, _vp, cancelled) => up(a, cancelled),
    hover: (event, _p, vp) => vp.root.classList.toggle("dt-q-grab", a.hit(vp, event) >= 0),
  };
}

/**
 * @param {Answering} a
 * @param {PointerEvent} event
 * @param {PointerPoint} p
 * @param {Viewport} vp
 */
function down(a, event, p, vp) {
  const grabbed = a.hit(vp, event);
  if (grabbed >= 0) {
    const d = a.toDisplay(a.marks[grabbed].image);
    a.drag = {
      index: grabbed, start: a.marks[grabbed].image.slice(),
      dx: d.x - p.x, dy: d.y - p.y, x: d.x, y: d.y, outside: false,
    };
    a.select(grabbed);
    return true;
  }
  if (!p.inside) return false;
  // The click that gives the widget the keys places nothing (a gesture with no drag:
  // the viewport focuses the widget and keeps the click from the notebook).
  if (!a.active()) return true;
  const before = a.marks.map((m) => m.image.slice());
  const index = a.place(p.x, p.y, a.armed || "");
  if (index < 0) return false;
  // A marker moved by the click (max_points 1) goes back there if the gesture is cancelled.
  a.drag = {
    index, start: index < before.length ? before[index] : null,
    dx: 0, dy: 0, x: p.x, y: p.y, outside: false,
  };
  if (a.armed) a.armed = null;
  a.hint = "";
  a.select(index, false);
  return true;
}

/**
 * @param {Answering} a
 * @param {PointerEvent} event
 * @param {PointerPoint} p
 * @param {Viewport} vp
 */
function move(a, event, p, vp) {
  const g = a.drag;
  if (!g) return;
  g.x = p.x + g.dx;
  g.y = p.y + g.dy;
  g.outside = a.outside(vp, event);
  a.marks[g.index] = { ...a.marks[g.index], image: a.toImage(g.x, g.y) };
  a.refreshMarkers();
}

/**
 * @param {Answering} a
 * @param {boolean} cancelled
 */
function up(a, cancelled) {
  const g = a.drag;
  if (!g) return;
  a.drag = null;
  if (cancelled) {
    if (g.start) a.marks[g.index] = { ...a.marks[g.index], image: g.start };
    else a.remove(g.index);
  } else if (g.outside && a.kind === "labels") {
    // Dragged off the image: the label goes back to the list.
    const label = a.marks[g.index].label;
    a.remove(g.index);
    a.say(`“${label}” taken back.`);
  }
  // A hotspot let go outside the image stays at its edge, where it is drawn.
  a.commit();
}

/**
 * Keys before the standard ones (standardControls' onKeyFirst), so that arrows move a
 * selected marker instead of the slice: Enter places, arrows nudge, Escape deselects.
 * @param {Answering} a
 * @param {KeyboardEvent} event
 * @returns {boolean} true when the key was used
 */
export function answerKey(a, event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return false;
  const target = /** @type {Element} */ (event.target);
  const control = target !== a.root && target.closest
    ? target.closest("button, input, select, textarea") : null;
  const typing = control && control.tagName !== "BUTTON";
  const key = event.key;
  if (key === "Enter" && !control) return placeByKey(a);
  if (key.startsWith("Arrow") && a.selected >= 0 && !typing) return nudge(a, key);
  if (key === "Escape" && (a.selected >= 0 || a.armed)) {
    a.armed = null;
    a.hint = "";
    a.select(-1);
    return true;
  }
  return false;
}

/**
 * Delete / Backspace (standardControls' onDelete): the selected marker, else the last.
 * @param {Answering} a
 */
export function deleteMarker(a) {
  if (!a.marks.length) return false;
  a.remove(a.selected >= 0 ? a.selected : a.marks.length - 1);
  return true;
}

/**
 * Enter: a marker at the mouse, or at the centre of the image when the mouse is not on it.
 * @param {Answering} a
 */
function placeByKey(a) {
  const vp = a.viewport;
  const layout = a.layout();
  const c = vp && vp.cursor;
  const x = c ? c.x : Math.floor(layout.cols / 2) + 0.5;
  const y = c ? c.y : Math.floor(layout.rows / 2) + 0.5;
  const index = a.place(x, y, a.armed || "");
  if (index >= 0) {
    a.armed = null;
    a.select(index, false);
    a.commit();
  }
  return true;
}

/**
 * An arrow key moves the selected marker by one pixel of the slice on screen.
 * @param {Answering} a
 * @param {string} key
 */
function nudge(a, key) {
  const m = a.marks[a.selected];
  if (!a.onSlice(m.image)) {
    a.select(a.selected);
    return true;
  }
  const d = a.toDisplay(m.image);
  const dx = key === "ArrowLeft" ? -1 : key === "ArrowRight" ? 1 : 0;
  const dy = key === "ArrowUp" ? -1 : key === "ArrowDown" ? 1 : 0;
  a.marks[a.selected] = { ...m, image: a.toImage(d.x + dx, d.y + dy) };
  a.commit();
  return true;
}
