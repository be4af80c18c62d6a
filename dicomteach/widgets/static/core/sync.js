// One view's values and the kernel's, kept in step (ipywidgets echoes each state
// update back to the view that made it). What the view changes goes out at most once per
// animation frame, only where it differs from the model; the kernel's echoes of values
// this view sent in the last seconds are ignored, so an old value arriving late cannot
// undo the learner's newer gesture; every other change is handed on. And a view waits
// for the kernel's whole state before building itself (stateComplete).

/** @import { AnyModel } from "../anywidget" */
/** @import { ImageState } from "./traits" */

/**
 * Resolves once the kernel has marked the model's state complete (ImageWidget's
 * state_complete). The kernel opens a widget's comm with default values and sends the
 * rest of its state as updates; while Lab is still loading the widget's module (Run All
 * with the cell out of view) those updates can be lost. A view that finds the state
 * incomplete asks the kernel for all of it again (_base.py, _handle_state) and waits.
 * @param {AnyModel<ImageState>} model
 * @returns {Promise<void>}
 */
export function stateComplete(model) {
  if (model.get("state_complete")) return Promise.resolve();
  model.send({ type: "state" });
  return new Promise((resolve) => {
    const check = () => {
      if (!model.get("state_complete")) return;
      model.off("change:state_complete", check);
      resolve();
    };
    model.on("change:state_complete", check);
  });
}

/** How long a value this view sent may come back as an echo (ms). */
const ECHO_MS = 5000;

export class ModelSync {
  /**
   * @param {AnyModel<Record<string, any>>} model
   * @param {() => Record<string, unknown>} outgoing the view's values, by attribute
   *   (an attribute left out, or undefined, is not sent now)
   * @param {(name: string, value: any) => void} incoming a change from the kernel or
   *   another view that is not an echo (a copy the view may keep)
   */
  constructor(model, outgoing, incoming) {
    this.model = model;
    this.outgoing = outgoing;
    this.incoming = incoming;
    this.scheduled = false;
    /** True while this view sets the model: those changes are its own. */
    this.sending = false;
    /** What was sent recently, by attribute. @type {Record<string, {json: string, t: number}[]>} */
    this.sent = {};
  }

  /** Send the view's values with the next animation frame. */
  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      const m = this.model;
      const now = performance.now();
      this.sending = true;
      for (const [name, value] of Object.entries(this.outgoing())) {
        if (value === undefined) continue;
        const json = JSON.stringify(value);
        if (JSON.stringify(m.get(name)) === json) continue;
        // Remember what we sent: the kernel echoes it back, maybe after newer values.
        const sent = (this.sent[name] = (this.sent[name] || []).filter((e) => now - e.t < ECHO_MS));
        sent.push({ json, t: now });
        // A copy: the model must not share arrays the widget goes on changing in place.
        m.set(name, structuredClone(value));
      }
      this.sending = false;
      m.save_changes();
    });
  }

  /**
   * The model's `name` changed: hand it on unless it is this view's own value or an
   * echo of one it sent.
   * @param {string} name
   */
  changed(name) {
    if (this.sending) return;
    const value = this.model.get(name);
    const json = JSON.stringify(value);
    const now = performance.now();
    if ((this.sent[name] || []).some((e) => e.json === json && now - e.t < ECHO_MS)) return;
    const local = this.outgoing();
    if (name in local && JSON.stringify(local[name]) === json) return;
    this.incoming(name, structuredClone(value));
  }
}
