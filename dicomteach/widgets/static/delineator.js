// dicomteach Delineator (widgets/delineator.py): paint, outline and fill structures on
// any plane. The label layer is edited here, so the learner sees each stroke at once;
// when a stroke ends, the changed box of the slice goes to the kernel, which keeps the
// history and writes the answer file (docs/decisions.md, decision 3). The kernel's
// patches (undo, redo, interpolation, other views' strokes) keep every view equal to it.

import { Scene } from "./core/scene.js";
import { stateComplete } from "./core/sync.js";
import { widgetLayout, standardControls } from "./core/controls.js";
import { Editor } from "./delineator/editor.js";
import { editorTools, editorKey } from "./delineator/tools.js";
import { editorPanel } from "./delineator/panel.js";
import { DelineatorViewport } from "./delineator/viewport.js";
import { LiveSession } from "./live/session.js";

/** @import { RenderProps, WidgetModule } from "./anywidget" */
/** @import { DelineatorState } from "./delineator/editor.js" */

/** Tool button labels and titles. @type {Record<string, [string, string]>} */
const DELINEATOR_TOOL_NAMES = {
  brush: ["Brush", "Brush (B): paint the active structure; [ and ] change the radius"],
  eraser: ["Eraser", "Eraser (E): erase the active structure"],
  range: ["Range brush", "Range brush (T): paint only pixels whose value lies in the range"],
  polygon: ["Polygon", "Polygon (P): click the vertices; double-click, Enter or the first vertex closes; Esc cancels"],
  freehand: ["Outline", "Freehand outline (O): drag round the region; release fills it"],
  fill: ["Fill", "Fill (F): fill the connected region under the click, on this slice"],
  wl: ["W/L", "Window/level (W): drag left–right for width, up–down for level"],
};

/** @param {RenderProps<DelineatorState>} props */
async function render({ model, el }) {
  await stateComplete(model);
  el.classList.add("dt-viewer", "dt-delineator");
  el.tabIndex = 0;
  // Lumino (JupyterLab) leaves keys to us inside the widget.
  el.dataset.lmSuppressShortcuts = "true";

  const scene = new Scene(model);
  const editor = new Editor(scene, model, el);
  const controls = standardControls(scene, el, {
    toolNames: DELINEATOR_TOOL_NAMES,
    // Before the Viewer's keys: ctrl-z, and Escape/Enter while outlining.
    onKeyFirst: (event) => editorKey(editor, event),
    onDelete: () => editor.removeVertex(),
  });
  const panel = editorPanel(editor);
  const live = new LiveSession(scene, el, { ownLayer: true });
  editor.onStroke = (indices, structure) => live.stroke(indices, structure);
  const viewport = new DelineatorViewport(scene, editor, {
    showFused: false,
    cursorLine: controls.cursorLine,
    onStatus: (vp) => {
      controls.update(vp);
      panel.update();
    },
    tools: editorTools(editor),
  });
  // The structures, brush and history right after the drawing tools.
  /** @type {Element} */ (controls.toolbar.firstChild).after(...panel.groups);
  live.attach(viewport);
  widgetLayout(el, {
    main: [live.panel.question, viewport.root, controls.slider, controls.readout, controls.cursorLine,
      panel.notice, live.panel.board.element],
    side: [controls.toolbar, live.group],
  });
  viewport.toolChanged();
  viewport.draw();
  panel.update();

  return () => {
    live.destroy();
    controls.destroy();
    editor.destroy();
    viewport.destroy();
    scene.destroy();
  };
}

/** @type {WidgetModule<DelineatorState>} */
export default { render };
