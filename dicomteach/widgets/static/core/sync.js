// One view's values and the kernel's, kept in step (ipywidgets echoes each state
// update back to the view that made it). What the view changes goes out with the next
// animation frame, and during a drag at most every SEND_MS, only where it differs from
// the model; the kernel's echoes of values
// this view sent in the last seconds are ignored, so an old value arriving late cannot
// undo the learner's newer gesture; every other change is handed on. And a view waits
// for the kernel's whole state before building itself (stateComplete); when it asked
// for that state again, what it changes meanwhile waits for the answer, which holds
// the kernel's values from before it heard of those changes (askState). What the view
// sets in the model itself (a series button, the legend) goes the same way (set).

/** @import { AnyModel, BackboneModel } from "../anywidget" */
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
export async function stateComplete(model) {
  const rescued = await hearKernel(model);
  if (model.get("state_complete")) {
    // Messages the kernel sent before the rescue may have been dropped: ask again.
    if (rescued) askState(model);
    return;
  }
  askState(model);
  return new Promise((resolve) => {
    const check = () => {
      if (!model.get("state_complete")) return;
      model.off("change:state_complete", check);
      resolve();
    };
    model.on("change:state_complete", check);
  });
}

/**
 * The kernel's answers this page awaits, by model: the whole state a view asked for
 * (askState), resolved once it arrived.
 * @type {WeakMap<object, Promise<void>>}
 */
const answers = new WeakMap();

/**
 * Ask the kernel for the model's whole state (_base.py, _handle_state). It sends every
 * synced value, then names this ask in `state_reply`: the promise resolves then. The
 * kernel answers a page's messages in order, so that state predates whatever a view
 * sends after asking; a view built meanwhile (ModelSync) keeps its changes until the
 * answer is in, so that the answer does not undo them (a live session's lead taking the
 * class's slice, a learner's first turn of the wheel).
 * @param {AnyModel<any>} model
 * @returns {Promise<void>}
 */
export function askState(model) {
  if (model.get("state_reply") === undefined) {
    // a kernel that does not name its answer: nothing to wait for
    model.send({ type: "state" });
    return Promise.resolve();
  }
  const ask = `state-${Math.random().toString(36).slice(2, 10)}`;
  const answer = new Promise((resolve) => {
    const heard = () => {
      if (model.get("state_reply") !== ask) return;
      model.off("change:state_reply", heard);
      resolve(undefined);
    };
    model.on("change:state_reply", heard);
  });
  // The kernel answers asks in order: the last one's answer comes after the others'.
  answers.set(model, answer);
  answer.then(() => {
    if (answers.get(model) === answer) answers.delete(model);
  });
  model.send({ type: "state", reply: ask });
  return answer;
}

/**
 * Keeps the model hearing the kernel, even if anywidget gave up on it.
 *
 * anywidget's front end gives a model two seconds from its creation to load the
 * widget's module; past that it rejects the model's readiness, and its
 * `_handle_comm_msg`, which awaits that readiness before handing each message on, drops
 * every later message from the kernel: a page busy elsewhere for two seconds (a 3D view
 * compiling shaders on a CPU renderer, Lab laying out a long notebook) leaves the widget
 * at "Loading… 0/60" for good (tests/browser/test_busy_page.py). Once this module runs,
 * the module is loaded, so the wait has no purpose left: the model's comm is pointed
 * straight at ipywidgets' own handler, the one anywidget's override calls after its
 * wait (docs/decisions.md, decision 19). Our widgets have no `initialize` hook that
 * the wait would protect. When the page is not built that way (another widget
 * manager, a later anywidget without the override) nothing is changed.
 * @param {AnyModel<any>} model
 * @returns {Promise<boolean>} true when the model's comm handler was replaced
 */
export async function hearKernel(model) {
  const id = model.get("own_model_id");
  if (!id || !model.widget_manager) return false;
  /** @type {BackboneModel} */
  let real;
  try {
    real = await model.widget_manager.get_model(id);
  } catch {
    return false;
  }
  const override = Object.getPrototypeOf(real);
  const base = override && Object.getPrototypeOf(override);
  const handle = base?._handle_comm_msg;
  if (!real.comm || !Object.hasOwn(override, "_handle_comm_msg") || typeof handle !== "function") {
    return false;
  }
  real.comm.on_msg((msg) => handle.call(real, msg));
  return true;
}

/** How long a value this view sent may come back as an echo (ms). */
const ECHO_MS = 5000;

/**
 * The least time between two sends (ms). A send costs far more than its message: the
 * kernel answers with busy, the echo and idle, and Lab redraws its kernel indicators
 * for each; sent every frame of a drag, that was a third of the CPU time each frame
 * cost, in the page, the server and the kernel together.
 */
const SEND_MS = 100;

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
    /** When the view last sent (performance.now()). */
    this.lastSent = -Infinity;
    /** True while this view sets the model: those changes are its own. */
    this.sending = false;
    /** What was sent recently, by attribute. @type {Record<string, {json: string, t: number}[]>} */
    this.sent = {};
    /**
     * The whole state this page asked for (askState), while it has not arrived: what the
     * view changes meanwhile waits (nothing is sent), and the answer's values do not undo
     * it. @type {Promise<void> | null}
     */
    this.awaiting = answers.get(model) || null;
    /** The model's values (JSON) when the view first changed something while awaiting. @type {Record<string, string> | null} */
    this.before = null;
    /**
     * Attributes the view sets itself outside its scene (set), held while awaiting.
     * @type {Record<string, unknown>}
     */
    this.held = {};
    /** Held attributes this view shows at once, and keeps against the answer's values. */
    this.guards = new Map();
    /** True once the scene's values are of a volume since replaced (discard): not sent. */
    this.discarded = false;
    if (this.awaiting) {
      this.awaiting.then(() => {
        this.awaiting = null;
        const changed = this.before !== null;
        this.before = null;
        for (const [name, guard] of this.guards) model.off(`change:${name}`, guard);
        this.guards.clear();
        // in the order the learner made them: the scene's changes, then the view's own
        if (changed) this.send();
        const held = this.held;
        this.held = {};
        if (Object.keys(held).length) this.setNow(held);
      });
    }
  }

  /**
   * The value of an attribute as this view last set it (set), held or not.
   * @param {string} name
   */
  get(name) {
    return name in this.held ? this.held[name] : this.model.get(name);
  }

  /**
   * Set model attributes the view changes itself, beside its scene's state (a study's
   * series button, the legend's boxes, a live session's series): sent after the scene's
   * changes made before them, and while the kernel's answer to askState is awaited,
   * held until it is in, so that this older state does not undo them.
   * @param {Record<string, unknown>} values
   * @param {boolean} [show] set in this view at once, even while held (the legend; not a
   *   series, which the kernel sends: a series held and shown would go out with the
   *   scene's held changes, in one message, before the kernel has them in order)
   */
  set(values, show = true) {
    if (!this.awaiting) {
      this.setNow(values);
      return;
    }
    Object.assign(this.held, values);
    if (!show) return;
    const m = this.model;
    for (const [name, value] of Object.entries(values)) {
      if (!this.guards.has(name)) {
        // the answer's older value, put back before anything is drawn with it
        const guard = () => {
          const held = this.held[name];
          if (JSON.stringify(m.get(name)) !== JSON.stringify(held)) m.set(name, structuredClone(held));
        };
        this.guards.set(name, guard);
        m.on(`change:${name}`, guard);
      }
      m.set(name, structuredClone(value));
    }
  }

  /** @param {Record<string, unknown>} values */
  setNow(values) {
    if (this.scheduled) this.send(); // the scene's pending changes go first
    for (const [name, value] of Object.entries(values)) this.model.set(name, value);
    this.model.save_changes();
  }

  /** The view is gone: what it changed last goes out now (or after the answer, as before). */
  destroy() {
    if (this.scheduled) this.send();
  }

  /**
   * The kernel replaced the volume (another series of a study): the scene's values, of
   * the volume before, are not sent, now or after the answer. What the view set itself
   * (set) still is.
   */
  discard() {
    this.discarded = true;
    this.scheduled = false;
  }

  /** Send the view's values with the next animation frame, SEND_MS after the last send at the earliest. */
  schedule() {
    if (this.awaiting) {
      // sent once the kernel's answer is in; until then, the view's changes are those
      // that differ from what the model holds now
      this.before ||= Object.fromEntries(
        Object.keys(this.outgoing()).map((name) => [name, JSON.stringify(this.model.get(name))]),
      );
      return;
    }
    if (this.scheduled || this.discarded) return;
    this.scheduled = true;
    const send = () => requestAnimationFrame(() => {
      if (this.scheduled) this.send(); // not sent meanwhile (setNow, destroy)
    });
    const wait = this.lastSent + SEND_MS - performance.now();
    if (wait > 0) setTimeout(send, wait);
    else send();
  }

  /** Send the view's values that differ from the model's, now. */
  send() {
    this.scheduled = false;
    if (this.discarded) return;
    const m = this.model;
    const now = performance.now();
    this.lastSent = now;
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
    const before = this.before;
    if (before && name in before && name in local) {
      // The kernel's state from before it heard of this view's change: the change wins
      // (it goes out once the answer is in).
      if (JSON.stringify(local[name]) !== before[name]) return;
      before[name] = json;
    }
    this.incoming(name, structuredClone(value));
  }
}
