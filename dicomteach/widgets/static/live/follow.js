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

export class Follower {
  /** @param {LiveSession} session */
  constructor(session) {
    this.session = session;
    /** @type {Scene} */
    this.scene = session.scene;
    this.attached = true;
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
    /** Who led when the session last changed. */
    this.lastLead = "";
  }

  /** This view's state as the document holds a view. @returns {SharedView} */
  ownView() {
    const s = this.scene;
    return {
      plane: s.plane, slice: s.slice, window: [s.center, s.width], zoom: s.zoom,
      pan: s.pan.slice(),
    };
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
    const joining = !this.lastLead;
    const wasLeading = this.lastLead === s.me;
    this.lastLead = s.lead;
    if (s.leading && !wasLeading) {
      const shared = /** @type {SharedView} */ (s.doc ? s.map("view").toJSON() : {});
      if (joining && shared.slice !== undefined) this.follow(shared);
      this.writeView(true);
    } else if (!s.leading && this.attached) this.viewChanged();
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
      if (key !== this.lastWritten) this.writeView(false);
    } else if (this.attached && this.lastApplied && key !== this.lastApplied) {
      session.setAttached(false);
    }
  }

  /** @param {boolean} attached */
  setAttached(attached) {
    this.attached = attached;
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
