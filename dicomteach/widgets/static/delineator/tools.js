// The Delineator's mouse tools and keys: brush, eraser and range brush strokes,
// polygon and freehand outlines, fill; undo/redo, tool letters, brush size, structure
// by shift+digit. Each turns an input into calls on the editor (editor.js).

/** @import { Editor } from "./editor.js" */
/** @import { Tool } from "../core/gestures.js" */

/** The tools that paint with the brush (a circle follows the mouse). */
export const PAINT_TOOLS = new Set(["brush", "eraser", "range"]);

/** Tool letters. @type {Record<string, string>} */
const DELINEATOR_KEYS = { b: "brush", e: "eraser", t: "range", p: "polygon", o: "freehand", f: "fill", w: "wl" };

/**
 * The Delineator's left-button tools for the core viewport (ViewportOptions.tools).
 * @param {Editor} editor
 * @returns {Record<string, Tool>}
 */
export function editorTools(editor) {
  /**
   * @param {string} tool
   * @returns {Tool}
   */
  const paint = (tool) => ({
    down: (_event, p) => {
      if (!editor.canEdit(p, tool)) return false;
      editor.edit = editor.begin(tool);
      editor.edit.stamp([p.row, p.col], editor.state.brush_mm);
      editor.redrawLabels();
      return true;
    },
    move: (_event, p) => {
      editor.hover = p;
      if (editor.edit) {
        editor.edit.stamp([p.row, p.col], editor.state.brush_mm);
        editor.redrawLabels();
      }
      editor.drawDrafts();
    },
    up: () => editor.finish(editor.edit),
    hover: (_event, p) => {
      editor.hover = p;
      editor.drawDrafts();
    },
  });
  return {
    brush: paint("brush"),
    eraser: paint("eraser"),
    range: paint("range"),
    polygon: {
      down: (_event, p, vp) => {
        if (!editor.canEdit(p, "polygon")) return false;
        editor.addVertex(p, vp);
        return true;
      },
      hover: (_event, p) => {
        editor.hover = p;
        editor.drawDrafts();
      },
    },
    freehand: {
      down: (_event, p) => {
        if (!editor.canEdit(p, "freehand")) return false;
        const scene = editor.scene;
        editor.draft = { kind: "freehand", plane: scene.plane, slice: scene.slice, points: [[p.row, p.col]] };
        editor.drawDrafts();
        return true;
      },
      move: (_event, p) => {
        const d = editor.draft;
        if (!d || d.kind !== "freehand") return;
        const last = d.points[d.points.length - 1];
        if (last[0] !== p.row || last[1] !== p.col) d.points.push([p.row, p.col]);
        editor.drawDrafts();
      },
      up: (_event, _p, _vp, cancelled) => {
        if (editor.draft && editor.draft.kind === "freehand" && !cancelled) editor.closeDraft();
        else editor.cancelDraft();
      },
    },
    fill: {
      down: (_event, p) => {
        if (!editor.canEdit(p, "fill")) return false;
        const edit = editor.begin("fill");
        edit.flood(p.row, p.col);
        editor.finish(edit);
        return true;
      },
    },
  };
}

/**
 * A double-click closes the polygon being drawn.
 * @param {Editor} editor
 * @param {MouseEvent} event
 */
export function dblclick(editor, event) {
  if (editor.scene.tool === "polygon" && editor.draft && editor.draft.kind === "polygon") {
    event.preventDefault();
    event.stopPropagation();
    editor.closeDraft();
  }
}

/**
 * Keys before the standard ones (standardControls' onKeyFirst): ctrl-z/y, Escape and
 * Enter while outlining, the tool letters, [ ] and shift+digit.
 * @param {Editor} editor
 * @param {KeyboardEvent} event
 * @returns {boolean} true when the key was used
 */
export function editorKey(editor, event) {
  const key = event.key;
  const ctrl = event.ctrlKey || event.metaKey;
  const tools = editor.model.get("tools");
  let handled = true;
  if (ctrl && !event.altKey && (key === "z" || key === "Z")) {
    if (event.shiftKey) editor.redo();
    else editor.undo();
  } else if (ctrl && !event.altKey && (key === "y" || key === "Y")) editor.redo();
  else if (ctrl || event.altKey) handled = false;
  else if (key === "Escape" && editor.draft) editor.cancelDraft();
  else if (key === "Enter" && editor.draft && editor.draft.kind === "polygon") editor.closeDraft();
  else if (key === "[") editor.resizeBrush(-1);
  else if (key === "]") editor.resizeBrush(1);
  else if (event.shiftKey && /^Digit[1-9]$/.test(event.code)) {
    handled = editor.select(Number(event.code.slice(5)));
  } else if (DELINEATOR_KEYS[key] && tools.includes(DELINEATOR_KEYS[key])) {
    editor.scene.setTool(DELINEATOR_KEYS[key]);
  } else if (key === "i") editor.interpolate();
  else handled = false;
  return handled;
}
