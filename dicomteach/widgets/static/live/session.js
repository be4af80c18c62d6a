// A widget view in a live session (docs/live.md): joins when the kernel puts the session
// in the `live` trait (widgets/live.py: go_live, join, the panel's buttons), and then
//
// - follows the lead: the view's slice, plane, window, zoom and pan take the document's
//   `view` (applied to the scene, which tells the kernel as for any change), until the
//   person looks around alone (a move of their own detaches them; Re-attach follows
//   again). Whoever leads writes their view and pointer there instead; the service
//   refuses anybody else's (docs/live.md), so a follower never writes it;
// - writes this person's strokes to their layer (a Delineator: its editor's strokes, and
//   the kernel's patches of its undo, redo and interpolation), and draws the others'
//   layers in their colours: all of them for an instructor, for a learner only once
//   the presenter shows them (reveal.layers);
// - polls: a learner's click while a poll is open is theirs in poll/clicks; the
//   presenter sees the clicks arrive as a heat map, marks the answer and shows it;
// - the class's agreement: the presenter asks the service (through the kernel) for the
//   agreement map and the STAPLE consensus, which it writes into the document's
//   `consensus` root; they are drawn here for an instructor, for a learner once the
//   presenter shows them (reveal.agreement, reveal.consensus), each of them hidden or
//   shown on this screen alone too (the map takes the place of the others' layers while
//   it is shown); and the scores, the kernel's answer to this view.
//
// The view's root element carries the state for tests and styles: data-live (the
// connection), data-live-lead, data-live-attached, data-live-joins, data-live-restarts,
// data-live-edits (edits this view wrote), data-live-drawn (others' edits on screen),
// data-live-agreement and data-live-consensus (the `made` of the map and of the
// consensus on screen, "" when not shown).

import { loadYjs, LiveProvider } from "./provider.js";
import { LiveLayers, drawLayers, editFromBox, editFromIndices, rgbOf } from "./layers.js";
import { livePanel } from "./panel.js";
import { LiveMarks } from "./marks.js";
import { Follower, shownSeries } from "./follow.js";
import { ClassAgreement, drawAgreement, drawConsensus } from "./agreement.js";

/** @import * as Y from "../vendor/yjs.js" */
/** @import { Scene } from "../core/scene.js" */
/** @import { Viewport } from "../core/viewport.js" */
/** @import { AnyModel } from "../anywidget" */
/** @import { ImageState } from "../core/traits" */
/** @import { LiveState } from "./provider.js" */
/** @import { LayerEdit } from "./layers.js" */

/**
 * The session as the kernel put it in the `live` trait (widgets/live.py LiveWidget.live).
 * @typedef {{id?: string, code?: string, title?: string, course?: string, presenter?: string,
 *   me?: string, role?: string, service?: string, sync?: string, series?: string}} LiveInfo
 */

/**
 * The traits a live widget adds (widgets/live.py).
 * @typedef {ImageState & {live: LiveInfo, live_error: string}} LiveTraits
 */

/** @typedef {{username: string, name: string, role: string, colour: string, online: boolean}} Person */

/** A click of a poll: array (frame, row, column) and the poll it answers. @typedef {{frame: number, row: number, column: number, asked?: number}} PollClick */

/** What the class's agreement shows: the map of how many drew, the consensus outline. @typedef {"agreement" | "consensus"} AgreementPart */

export class LiveSession {
  /**
   * @param {Scene} scene
   * @param {HTMLElement} root the widget's element
   * @param {{ownLayer?: boolean}} [options] ownLayer: this widget draws the person's
   *   layer (a Delineator), so it is not drawn again among the others'
   */
  constructor(scene, root, options = {}) {
    this.scene = scene;
    this.model = /** @type {AnyModel<LiveTraits>} */ (/** @type {unknown} */ (scene.model));
    this.root = root;
    this.ownLayer = !!options.ownLayer;
    /** @type {LiveInfo} */
    this.info = {};
    /** @type {LiveProvider | null} */
    this.provider = null;
    /** @type {Y.Doc | null} */
    this.doc = null;
    /** @type {(() => void)[]} */
    this.unbind = [];
    this.destroyed = false;
    this.drawScheduled = false;
    /** What went wrong in this page ("" when nothing did). */
    this.problem = "";
    this.markingAnswer = false;
    /** Edits made before this view could write them (not synced yet). @type {LayerEdit[]} */
    this.pending = [];
    this.edits = 0;
    this.layers = new LiveLayers(scene.shape);
    this.agreement = new ClassAgreement(scene.shape);
    /** What this screen shows of the class's agreement, when it may (sees). */
    this.showing = { agreement: true, consensus: true };
    /** The structure whose agreement is shown (its label; 0: the first there is). */
    this.structure = 0;
    /** The kernel is asking the service for these (live_reply ends the wait). */
    this.waiting = { consensus: false, scores: false };
    this.agreementScheduled = false;
    /** @type {Viewport[]} */
    this.viewports = [];
    this.follower = new Follower(this);
    this.panel = livePanel(this);
    this.marks = new LiveMarks(this);
    this.offScene = scene.on("changed", () => this.follower.sceneChanged());
    this.offMessage = scene.on("message", (msg, buffers) => this.kernelMessage(msg, buffers));
    this.onLive = () => this.liveChanged();
    this.model.on("change:live", this.onLive);
    this.onError = () => this.panel.update();
    this.model.on("change:live_error", this.onError);
    // For the browser's console and the tests: the session behind a widget's element.
    /** @type {HTMLElement & {dtLive?: LiveSession}} */ (root).dtLive = this;
    this.liveChanged();
  }

  /** The tool-column group. */
  get group() {
    return this.panel.group;
  }

  get me() {
    return this.info.me || "";
  }

  get instructor() {
    return this.info.role === "instructor";
  }

  get error() {
    return this.model.get("live_error") || this.problem;
  }

  /** @returns {LiveState | "loading" | "off"} */
  get state() {
    if (!this.info.id) return "off";
    return this.provider ? this.provider.state : "loading";
  }

  /**
   * One of the document's root maps (docs/live.md); only while joined.
   * @param {string} name
   */
  map(name) {
    return /** @type {Y.Doc} */ (this.doc).getMap(name);
  }

  get lead() {
    return this.doc ? String(this.map("session").get("lead") || "") : "";
  }

  get leading() {
    return !!this.me && this.lead === this.me && this.state !== "ended";
  }

  /**
   * Whether this view shows the session's series, the one the layers and the class's
   * agreement are drawn on (a Viewer of a study may show another of its series).
   */
  get onSessionSeries() {
    const shown = shownSeries(this.model);
    return !this.info.series || !shown || shown === this.info.series;
  }

  /**
   * The person moved on their own (another series of their study): they look around
   * alone, unless they lead.
   */
  ownMove() {
    if (this.state !== "off" && !this.leading && this.attached) this.setAttached(false);
  }

  /** @param {string} flag */
  revealed(flag) {
    return !!this.doc && this.map("reveal").get(flag) === true;
  }

  get poll() {
    const poll = this.doc ? this.map("poll") : null;
    return {
      question: String(poll?.get("question") || ""),
      open: poll?.get("open") === true,
      asked: Number(poll?.get("asked") || 0),
      answer: /** @type {PollClick | null} */ (poll?.get("answer") || null),
    };
  }

  /** The clicks of the poll asked last. @returns {[string, PollClick][]} */
  pollClicks() {
    if (!this.doc) return [];
    const clicks = /** @type {Y.Map<PollClick> | undefined} */ (this.map("poll").get("clicks"));
    if (!clicks || typeof clicks.entries !== "function") return [];
    const asked = this.poll.asked;
    return [...clicks.entries()].filter(([, c]) => c && (c.asked || 0) === asked);
  }

  /** @returns {Person[]} */
  people() {
    if (!this.doc) return [];
    const presenter = this.info.presenter;
    return [...this.map("present").entries()]
      .map(([username, p]) => ({
        username, name: String(p?.name || username), role: String(p?.role || ""),
        colour: String(p?.colour || "#ffffff"), online: !!p?.online,
      }))
      .sort((a, b) => Number(b.username === presenter) - Number(a.username === presenter) ||
        a.name.localeCompare(b.name));
  }

  /** @param {string} username */
  personName(username) {
    return this.people().find((p) => p.username === username)?.name || username;
  }

  // ---- joining and leaving

  /**
   * Ask the kernel to act (widgets/live.py LiveWidget._handle_live).
   * @param {string} action
   * @param {object} content
   */
  request(action, content) {
    this.model.send({ type: "live", action, ...content });
  }

  async liveChanged() {
    const info = this.model.get("live") || {};
    if (info.id === this.info.id && info.sync === this.info.sync) {
      this.info = info;
      this.update();
      return;
    }
    this.stopProvider();
    this.info = info;
    this.follower.stop();
    this.follower = new Follower(this);
    this.layers = new LiveLayers(this.scene.shape);
    this.agreement = new ClassAgreement(this.scene.shape);
    this.waiting = { consensus: false, scores: false };
    this.panel.board.clear();
    this.drawAgreement();
    this.update();
    if (!info.id || !info.sync || !info.service) return;
    let Y;
    try {
      Y = await loadYjs(this.model);
    } catch (error) {
      this.problem = `Yjs did not load: ${error}`;
      this.update();
      return;
    }
    if (this.info !== info || this.destroyed) return; // left, or another session, meanwhile
    this.provider = new LiveProvider(Y, info.service, info.sync, {
      onState: () => this.stateChanged(),
      onDoc: (doc) => this.bind(doc),
    });
    this.bind(this.provider.doc);
    this.provider.start();
  }

  stopProvider() {
    for (const off of this.unbind) off();
    this.unbind = [];
    if (this.provider) this.provider.stop();
    this.provider = null;
    this.doc = null;
    this.pending = [];
  }

  /**
   * Observe a (new) document's roots.
   * @param {Y.Doc} doc
   */
  bind(doc) {
    for (const off of this.unbind) off();
    this.doc = doc;
    this.layers = new LiveLayers(this.scene.shape);
    this.agreement = new ClassAgreement(this.scene.shape);
    /**
     * @param {string} name
     * @param {(events: any[], transaction: any) => void} fn
     */
    const deep = (name, fn) => {
      const map = doc.getMap(name);
      map.observeDeep(fn);
      this.unbind.push(() => map.unobserveDeep(fn));
    };
    deep("view", (_events, transaction) => {
      if (!transaction.local) this.follower.viewChanged();
    });
    deep("session", () => this.sessionChanged());
    deep("present", () => {
      this.update();
      this.drawOthers();
    });
    deep("reveal", () => {
      this.drawOthers();
      this.drawAgreement();
      this.marks.draw();
      this.update();
    });
    deep("consensus", () => this.agreementChanged());
    deep("layers", () => this.layersChanged());
    deep("poll", () => {
      this.marks.draw();
      this.update();
    });
    this.update();
  }

  stateChanged() {
    if (this.state === "synced") {
      this.sessionChanged();
      this.flushEdits();
      this.layersChanged();
      this.agreementChanged();
    }
    this.update();
  }

  update() {
    const ds = this.root.dataset;
    ds.live = this.state;
    ds.liveLead = this.lead;
    ds.liveAttached = this.attached ? "1" : "0";
    ds.liveJoins = String(this.provider?.joins || 0);
    ds.liveRestarts = String(this.provider?.restarts || 0);
    ds.liveEdits = String(this.edits);
    this.panel.update();
  }

  /** The session changed (who leads, the end): lead, or follow again. */
  sessionChanged() {
    this.follower.sessionChanged();
    if (this.state === "ended") this.markingAnswer = false;
    this.update();
  }

  get attached() {
    return this.follower.attached;
  }

  /** @param {boolean} attached */
  setAttached(attached) {
    this.follower.setAttached(attached);
    this.update();
  }

  /**
   * The lead's pointer over the image: array (frame, row, col), or null when it left.
   * @param {number[] | null} index
   */
  pointer(index) {
    this.follower.pointer(index);
  }

  // ---- layers

  /**
   * Write one edit of this person's layer (or keep it until the layer can be written).
   * @param {LayerEdit} edit
   */
  writeEdit(edit) {
    if (!this.info.id) return;
    this.pending.push(edit);
    this.flushEdits();
  }

  flushEdits() {
    if (!this.doc || !this.provider || !this.pending.length || this.state === "ended") return;
    const mine = /** @type {Y.Map<any> | undefined} */ (this.map("layers").get(this.me));
    const edits = mine && typeof mine.get === "function" ? mine.get("edits") : null;
    // The service makes the layer when this person first joins (never a client: docs/live.md).
    if (!edits || typeof edits.push !== "function") return;
    const batch = this.pending;
    this.pending = [];
    this.provider.change(() => edits.push(batch));
    this.edits += batch.length;
    this.update();
  }

  /**
   * A stroke of this view's editor ended (delineator/editor.js Editor.onStroke).
   * @param {Iterable<number>} indices flat indices it changed
   * @param {number} structure
   */
  stroke(indices, structure) {
    const labels = this.scene.layers.get("labels");
    if (!labels || !this.info.id) return;
    const edit = editFromIndices(labels.data, this.scene.shape, indices, structure);
    if (edit) this.writeEdit(edit);
  }

  /**
   * The kernel's patches of the labels this view asked for (undo, redo, interpolation)
   * or that no view asked for (a change made in Python) go to the layer too; a stroke's
   * own patch was written when the stroke ended.
   * @param {any} msg
   * @param {DataView[]} buffers
   */
  kernelMessage(msg, buffers) {
    if (msg.type === "live_reply") {
      this.replied(msg, buffers);
      return;
    }
    if (!this.ownLayer || !this.info.id || msg.type !== "patch" || msg.layer !== "labels") return;
    if (msg.origin) return;
    if (msg.requested_by && msg.requested_by !== this.scene.origin) return;
    const labels = this.scene.layers.get("labels");
    if (!labels || !buffers.length) return;
    // structure 0: a patch may touch several structures (an undo of a clear)
    this.writeEdit(editFromBox(labels.data, this.scene.shape, msg.box, 0));
  }

  layersChanged() {
    if (!this.doc) return;
    let changed = false;
    for (const [name, layer] of this.map("layers").entries()) {
      const edits = layer && typeof layer.get === "function" ? layer.get("edits") : null;
      if (!edits || typeof edits.toArray !== "function") continue;
      if (this.layers.update(name, edits.toArray())) changed = true;
    }
    this.flushEdits();
    if (changed) this.drawOthers();
  }

  /** Whose layers this view draws, with their colours. */
  others() {
    if (!this.doc || !this.onSessionSeries || !(this.instructor || this.revealed("layers"))) return [];
    return this.people()
      .filter((p) => !(this.ownLayer && p.username === this.me))
      .map((p) => ({ name: p.username, color: rgbOf(p.colour) }));
  }

  /** Redraw the others' layers with the next animation frame (once for many changes). */
  drawOthers() {
    if (this.drawScheduled) return;
    this.drawScheduled = true;
    requestAnimationFrame(() => {
      this.drawScheduled = false;
      if (this.destroyed) return;
      for (const vp of this.viewports) vp.draw(["live"]);
      let drawn = 0;
      for (const person of this.layers.people.values()) drawn += person.applied;
      this.root.dataset.liveDrawn = String(drawn); // on screen now
    });
  }

  /**
   * Who drew at array index `a` (their names), for the hover label.
   * @param {number[]} a
   */
  whoDrew(a) {
    return this.others().filter((p) => this.layers.at(p.name, a)).map((p) => this.personName(p.name));
  }

  // ---- the class's agreement and scores

  /** The presenter's Agreement: the service writes the map and consensus into `consensus`. */
  askAgreement() {
    if (!this.instructor || !this.doc || this.state === "ended") return;
    this.waiting.consensus = true;
    this.request("consensus", {});
    this.update();
  }

  /** The presenter's Scores: the kernel hands this view the table and the picture. */
  askScores() {
    if (!this.instructor || !this.info.id) return;
    this.waiting.scores = true;
    const shown = this.agreement.structure(this.structure);
    this.request("scores", { structure: shown ? shown.label : null });
    this.update();
  }

  /**
   * The kernel's answer to askAgreement or askScores (widgets/live.py LiveWidget._reply);
   * a refusal is in live_error.
   * @param {{action: string, ok: boolean, answer?: any, picture?: boolean}} msg
   * @param {DataView[]} buffers
   */
  replied(msg, buffers) {
    if (msg.action === "consensus") this.waiting.consensus = false;
    if (msg.action === "scores") {
      this.waiting.scores = false;
      if (msg.ok && msg.answer && this.instructor) {
        const png = msg.picture && buffers.length
          ? new Blob([/** @type {DataView<ArrayBuffer>} */ (buffers[0])], { type: "image/png" }) : null;
        const names = new Map((this.model.get("label_info") || []).map((l) => [l.value, l.name || ""]));
        this.panel.board.show(msg.answer, png, names);
      }
    }
    this.update();
  }

  agreementChanged() {
    if (!this.doc) return;
    if (this.agreement.update(this.map("consensus"))) this.drawAgreement();
    this.update();
  }

  /**
   * Whether this screen shows `part` now: an instructor's always, a learner's once the
   * presenter shows it to the class; and not hidden on this screen.
   * @param {AgreementPart} part
   */
  sees(part) {
    return !!this.doc && !!this.agreement.structures.length && this.showing[part] &&
      this.onSessionSeries && (this.instructor || this.revealed(part));
  }

  /**
   * Show or hide `part` on this screen alone.
   * @param {AgreementPart} part
   */
  toggle(part) {
    this.showing[part] = !this.showing[part];
    this.drawAgreement();
    this.update();
  }

  /** @param {number} label */
  showStructure(label) {
    this.structure = label;
    this.drawAgreement();
    this.update();
  }

  /** Redraw the agreement map and the consensus with the next animation frame. */
  drawAgreement() {
    if (this.agreementScheduled) return;
    this.agreementScheduled = true;
    requestAnimationFrame(() => {
      this.agreementScheduled = false;
      if (this.destroyed) return;
      for (const vp of this.viewports) vp.draw(["live", "agreement", "consensus"]);
      const ds = this.root.dataset;
      ds.liveAgreement = this.sees("agreement") ? this.agreement.made : "";
      ds.liveConsensus = this.sees("consensus") ? this.agreement.made : "";
    });
  }

  /**
   * What the mouse is over at array index `a`: who drew there, and how many of the class.
   * @param {number[]} a
   */
  hoverText(a) {
    const names = this.whoDrew(a);
    if (this.sees("agreement")) {
      const structure = this.agreement.structure(this.structure);
      const k = structure ? this.agreement.countAt(structure.label, a) : 0;
      if (structure && k) names.push(`${k} of ${structure.raters.length} drew here`);
    }
    return names;
  }

  // ---- polls

  /** @param {string} question */
  askPoll(question) {
    if (!this.provider || !this.instructor) return;
    const poll = this.map("poll"), reveal = this.map("reveal");
    const asked = this.poll.asked + 1;
    this.provider.change(() => {
      poll.set("question", question);
      poll.set("asked", asked);
      poll.set("answer", null);
      poll.set("open", true);
      reveal.set("answer", false);
    });
  }

  closePoll() {
    if (!this.provider || !this.instructor) return;
    const poll = this.map("poll");
    this.provider.change(() => poll.set("open", false));
  }

  /**
   * @param {string} flag
   * @param {boolean} value
   */
  reveal(flag, value) {
    if (!this.provider || !this.instructor) return;
    const reveal = this.map("reveal");
    this.provider.change(() => reveal.set(flag, value));
  }

  /**
   * A click on the image at array index `a` while a poll is open or the answer is being
   * marked; true when it was taken (the tool does not see it).
   * @param {number[]} a
   */
  pollClick(a) {
    if (!this.provider || !this.doc || this.state === "ended") return false;
    const click = { frame: a[0], row: a[1], column: a[2], asked: this.poll.asked };
    if (this.instructor && this.markingAnswer) {
      const poll = this.map("poll");
      this.provider.change(() => poll.set("answer", { frame: a[0], row: a[1], column: a[2] }));
      this.markingAnswer = false;
      this.update();
      return true;
    }
    if (this.instructor || !this.poll.open) return false;
    const clicks = this.map("poll").get("clicks");
    if (!clicks || typeof clicks.set !== "function") return false;
    this.provider.change(() => clicks.set(this.me, click));
    return true;
  }

  // ---- pictures

  /**
   * Draw on this viewport too: others' layers on a canvas over the labels, the marks
   * (pointer, poll) in an SVG over everything.
   * @param {Viewport} vp
   */
  attach(vp) {
    this.viewports.push(vp);
    vp.addCanvas("live", "dt-live-layers", {
      // the agreement map sums up the layers: drawn over them, it would be unreadable
      draw: (layout, s, out) => !this.sees("agreement") && drawLayers(this.layers, this.others(), layout, s, out),
    });
    vp.addCanvas("agreement", "dt-live-agreement", {
      draw: (layout, s, out) => this.sees("agreement") && drawAgreement(this.agreement, this.structure, layout, s, out),
    });
    vp.addCanvas("consensus", "dt-live-consensus", {
      draw: (layout, s, out) => this.sees("consensus") && drawConsensus(this.agreement, this.structure, layout, s, out),
    });
    this.marks.attach(vp);
  }

  destroy() {
    this.destroyed = true;
    this.follower.stop();
    this.stopProvider();
    this.offScene();
    this.offMessage();
    this.model.off("change:live", this.onLive);
    this.model.off("change:live_error", this.onError);
    this.marks.destroy();
    this.panel.board.clear();
    delete (/** @type {HTMLElement & {dtLive?: LiveSession}} */ (this.root)).dtLive;
  }
}
