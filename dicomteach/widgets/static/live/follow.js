// Following the lead in a live session (session.js): the document's `view` holds the slice,
// plane, window, zoom, pan and pointer of whoever leads. The lead writes theirs there (at
// most every VIEW_MS); everyone else's scene takes it, and the kernel hears of it as of any
// change, until the person moves on their own: then they look around alone (detached) and
// their view goes nowhere (only the lead may write `view`: docs/live.md), until they
// re-attach.

/** @import { Scene } from "../core/scene.js" */
/** @import { LiveSession } from "./session.js" */

/**
 * The shared view (the document's `view`).
 * @typedef {{plane?: string, slice?: number, window?: number[], zoom?: number, pan?: number[],
 *   pointer?: number[] | null, series?: string}} SharedView
 */

/** Least time between two writes of the lead's view or pointer (ms). */
const VIEW_MS = 40;

/**
 * What a widget's followers remember across its views' rebuilds (a Viewer builds its view
 * again for another series of its study): for the session `session`, whether the person
 * looks around alone, who led last, and whether a lead who joined still has to take the
 * class's view.
 * @typedef {{session: string, detached: boolean, lastLead: string, adopting: boolean}} Memory
 */

/** @type {WeakMap<object, Memory>} */
const memories = new WeakMap();

/**
 * @param {object} model
 * @param {string} session
 * @returns {Memory}
 */
function memoryOf(model, session) {
  let memory = memories.get(model);
  if (!memory || memory.session !== session) {
    memory = { session, detached: false, lastLead: "", adopting: false };
    memories.set(model, memory);
  }
  return memory;
}

/**
 * The series a Viewer of a study shows (its UID), "" for a widget of one series.
 * @param {any} model
 */
export function shownSeries(model) {
  const list = model.get("series");
  if (!Array.isArray(list) || !list.length) return "";
  const item = list.find((/** @type {any} */ s) => s.index === model.get("series_index"));
  return String(item?.uid || "");
}

export class Follower {
  /** @param {LiveSession} session */
  constructor(session) {
    this.session = session;
    /** @type {Scene} */
    this.scene = session.scene;
    this.memory = memoryOf(session.model, String(session.info.id || ""));
    this.attached = !this.memory.detached;
    /** True while the document's view is being applied: the scene's changes are not ours. */
    this.applying = false;
    /** The view as last applied or written (Follower.key). */
    this.lastApplied = "";
    this.lastWritten = "";
    this.lastWriteAt = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.writeTimer = undefined;
    this.lastPointerAt = 0;
    /** The lead's pointer to write next. @type {number[] | null} */
    this.pointerAt = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.pointerTimer = undefined;
    /** Who led when the session last changed ("" before this view saw it). */
    this.lastLead = "";
  }

  /** This view's state as the document holds a view. @returns {SharedView} */
  ownView() {
    const s = this.scene;
    /** @type {SharedView} */
    const view = {
      plane: s.plane, slice: s.slice, window: [s.center, s.width], zoom: s.zoom,
      pan: s.pan.slice(),
    };
    const series = shownSeries(this.session.model);
    if (series) view.series = series;
    return view;
  }

  /** @param {SharedView} view */
  static key(view) {
    const round = (/** @type {number | undefined} */ v) => (typeof v === "number" ? Math.round(v * 1000) / 1000 : v);
    return JSON.stringify([view.plane, view.slice, (view.window || []).map(round), round(view.zoom),
      (view.pan || []).map(round)]);
  }

  /**
   * Who leads may have changed: write this view if it is ours now, else follow. A lead
   * who joins a session whose view is set (the presenter back after their kernel
   * restarted, or in another tab) takes it first: the class stays where it was.
   */
  sessionChanged() {
    const s = this.session;
    // a view built again (another series) goes on as its widget was: no new join
    const joining = !this.memory.lastLead;
    const wasLeading = this.lastLead === s.me;
    this.lastLead = s.lead;
    this.memory.lastLead = s.lead || this.memory.lastLead;
    if (s.leading && (!wasLeading || this.memory.adopting)) {
      if (joining) this.memory.adopting = true;
      this.lead();
    } else if (!s.leading && this.attached) this.viewChanged();
  }

  /**
   * Lead: write this view; but a lead who just joined takes the class's view first, once
   * this view is laid out and the document has arrived (so the class stays where it
   * was), and its series first of all. Nothing is written before.
   */
  lead() {
    const s = this.session;
    if (!s.leading || !s.doc) return;
    if (this.memory.adopting) {
      if (!this.scene.layout) return; // sceneChanged calls again once laid out
      const shared = /** @type {SharedView} */ (s.map("view").toJSON());
      // not all of the document yet: "synced" calls again once it is
      if (shared.slice === undefined && s.state !== "synced") return;
      if (shared.slice !== undefined && this.switchSeries(shared)) return; // built again
      this.memory.adopting = false;
      if (shared.slice !== undefined) this.follow(shared);
    }
    this.writeView(true);
  }

  /**
   * Show the shared view's series if this widget shows another of its study's series
   * (a Viewer of a study); true when asked for (the view is built again with it).
   * @param {SharedView} view
   */
  switchSeries(view) {
    const model = /** @type {any} */ (this.session.model);
    const shown = shownSeries(model);
    if (!view.series || !shown || view.series === shown) return false;
    const list = /** @type {any[]} */ (model.get("series"));
    const item = list.find((s) => s.uid === view.series);
    if (!item) return false; // not in this study: stay on the series shown
    this.scene.sync.set({ series_index: item.index }, false);
    return true;
  }

  /** The document's view changed: follow it (attached, not leading); draw the pointer. */
  viewChanged() {
    const s = this.session;
    if (!s.doc) return;
    if (!s.leading && this.attached) this.follow(/** @type {SharedView} */ (s.map("view").toJSON()));
    s.marks.draw();
  }

  /** @param {SharedView} view */
  follow(view) {
    const s = this.scene;
    if (view.slice === undefined || !s.layout) return;
    if (this.switchSeries(view)) return; // the view built again follows the rest
    if (Follower.key(view) === Follower.key(this.ownView())) {
      this.lastApplied = Follower.key(view);
      return;
    }
    this.applying = true;
    try {
      if (view.plane && view.plane !== s.plane && s.layouts[view.plane]) s.setPlane(view.plane);
      const n = s.layout.n_slices;
      s.position[s.layout.slice_axis] = Math.min(n - 1, Math.max(0, Math.round(Number(view.slice))));
      if (Array.isArray(view.window) && view.window.length === 2) {
        s.setWindow(Number(view.window[0]), Number(view.window[1]), s.fn, null);
      }
      if (typeof view.zoom === "number" && Array.isArray(view.pan)) s.setView(view.zoom, view.pan.map(Number));
      for (const vp of s.viewports) vp.place();
      s.redraw();
      s.scheduleSend();
    } finally {
      this.applying = false;
    }
    this.lastApplied = Follower.key(this.ownView());
  }

  /** The scene changed here (a gesture, a key, the kernel): lead, or look around alone. */
  sceneChanged() {
    const session = this.session;
    if (this.applying || !session.doc || session.state === "off" || !this.scene.layout) return;
    const key = Follower.key(this.ownView());
    if (session.leading) {
      if (this.memory.adopting) this.lead();
      else if (key !== this.lastWritten) this.writeView(false);
    } else if (this.attached && this.lastApplied && key !== this.lastApplied) {
      session.setAttached(false);
    }
  }

  /** @param {boolean} attached */
  setAttached(attached) {
    this.attached = attached;
    this.memory.detached = !attached;
    if (attached) this.viewChanged();
  }

  /**
   * Write this view to the document (the lead only), at most every VIEW_MS.
   * @param {boolean} now
   */
  writeView(now) {
    const { provider } = this.session;
    if (!this.session.leading || !provider || !this.scene.layout) return;
    const wait = this.lastWriteAt + VIEW_MS - performance.now();
    if (!now && wait > 0) {
      if (!this.writeTimer) {
        this.writeTimer = setTimeout(() => {
          this.writeTimer = undefined;
          this.writeView(true);
        }, wait);
      }
      return;
    }
    const view = this.ownView();
    const key = Follower.key(view);
    const shared = this.session.map("view");
    provider.change(() => {
      for (const [name, value] of Object.entries(view)) {
        if (JSON.stringify(shared.get(name)) !== JSON.stringify(value)) shared.set(name, value);
      }
    });
    this.lastWritten = key;
    this.lastApplied = key;
    this.lastWriteAt = performance.now();
  }

  /**
   * The lead's pointer over the image: array (frame, row, col), or null when it left;
   * its last position goes out at most VIEW_MS after the one before.
   * @param {number[] | null} index
   */
  pointer(index) {
    if (!this.session.leading || !this.session.provider) return;
    this.pointerAt = index ? index.map((v) => Math.round(v * 10) / 10) : null;
    if (this.pointerTimer) return; // the last position goes out when the wait is over
    const write = () => {
      this.pointerTimer = undefined;
      const { provider } = this.session;
      if (!this.session.leading || !provider) return;
      this.lastPointerAt = performance.now();
      const view = this.session.map("view");
      const value = this.pointerAt;
      if (JSON.stringify(view.get("pointer") ?? null) !== JSON.stringify(value)) {
        provider.change(() => view.set("pointer", value));
      }
    };
    const wait = this.lastPointerAt + VIEW_MS - performance.now();
    if (wait > 0) this.pointerTimer = setTimeout(write, wait);
    else write();
  }

  stop() {
    clearTimeout(this.writeTimer);
    clearTimeout(this.pointerTimer);
  }
}
