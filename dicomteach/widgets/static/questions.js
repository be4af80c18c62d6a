// dicomteach question widgets (widgets/questions.py): Hotspot (click where the finding
// is) and LabelDrop (drag labels onto the image). The answer lives in
// questions/answering.js; everything else (scroll, W/L, zoom, pan, reformats) is the
// core's.

import { el } from "./core/dom.js";
import { Scene } from "./core/scene.js";
import { stateComplete } from "./core/sync.js";
import { Viewport } from "./core/viewport.js";
import { widgetLayout, standardControls } from "./core/controls.js";
import { Answering } from "./questions/answering.js";
import { answerTool, answerKey, deleteMarker } from "./questions/tools.js";
import { drawMarkers, showStart } from "./questions/panel.js";

/** @import { RenderProps, WidgetModule } from "./anywidget" */
/** @import { QuestionState } from "./questions/answering.js" */

/** Tool button labels and titles. @type {Record<string, [string, string]>} */
const TOOL_NAMES = {
  hotspot: ["Mark", "Mark the finding: click on the image; drag a marker to move it"],
  label: ["Label", "Place labels: drag a label onto the image; drag it off to take it back"],
};

/** @param {RenderProps<QuestionState>} props */
async function render({ model, el: root }) {
  await stateComplete(model);
  const kind = model.get("question") === "labels" ? "labels" : "hotspot";
  root.classList.add("dt-viewer", "dt-question", `dt-q-${kind}`);
  root.tabIndex = 0;
  // Lumino (JupyterLab) leaves keys to us inside the widget: Enter places, not edits the cell.
  root.dataset.lmSuppressShortcuts = "true";

  const scene = new Scene(model);
  const answering = new Answering(model, scene, root);
  const controls = standardControls(scene, root, {
    toolNames: TOOL_NAMES,
    onKeyFirst: (event) => answerKey(answering, event),
    onDelete: () => deleteMarker(answering),
  });
  const viewport = new Viewport(scene, {
    cursorLine: controls.cursorLine,
    tools: { [answering.toolName]: answerTool(answering) },
    onStatus: (vp) => controls.update(vp),
    onAnnotations: (vp) => drawMarkers(answering, vp),
  });
  answering.viewport = viewport;
  viewport.root.append(answering.startEl);
  // What a click will do changes with the focus; checked again when the mouse comes
  // over the image, in case the focus went without a word (a re-attached output).
  const start = () => showStart(answering);
  root.addEventListener("focusin", start);
  root.addEventListener("focusout", start);
  viewport.root.addEventListener("pointerenter", start);
  // The answer (chips or the list of markers, and whether it is saved) heads the tool column.
  if (kind === "hotspot") {
    const title = el("div", "dt-q-side-title", model.get("side_title") || "Your answer");
    answering.side.append(title, answering.listEl);
  }
  answering.side.append(answering.statusEl);
  const layout = widgetLayout(root, {
    header: [answering.promptEl, answering.noticeEl],
    main: [viewport.root, controls.slider, controls.readout, controls.cursorLine],
    side: [answering.side, controls.toolbar],
  });
  layout.body.classList.add("dt-q-body");
  viewport.toolChanged();
  viewport.draw();
  answering.refresh();
  // an instructor changing the key's radius sees the circles follow
  const redraw = () => viewport.draw();
  model.on("change:radius_mm", redraw);
  // a second reader's marks arrive once the learner has read (Hotspot.ai_marks)
  model.on("change:ai_marks", redraw);

  return () => {
    model.off("change:radius_mm", redraw);
    model.off("change:ai_marks", redraw);
    controls.destroy();
    viewport.destroy();
    scene.destroy();
  };
}

/** @type {WidgetModule<QuestionState>} */
export default { render };
