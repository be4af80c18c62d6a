// A live session's document in this page, kept in step with the hub's live service
// (dicomteach/live, docs/live.md) over one websocket: y-protocols' sync messages, as
// y-websocket speaks them. Yjs itself is not in the widget's script: it is the vendored
// module static/vendor/yjs.js, which the kernel sends when a widget goes live
// (widgets/live.py) and the page imports once, from a blob URL (loadYjs).
//
// The document outlives its connection: strokes drawn while the network is away stay
// in it, and go out in the sync step 2 that answers the service's step 1 when the
// connection comes back (the CRDT merges them). Nothing is sent between the
// connection opening and that answer: an update sent then could depend on parts the
// service has not seen yet, which it refuses (docs/live.md, "The protocol").

/** @import * as Y from "../vendor/yjs.js" */
/** @import { AnyModel } from "../anywidget" */
/** @typedef {typeof import("../vendor/yjs.js")} YModule */

/**
 * What the provider says about itself: connecting (the first time), synced, offline
 * (lost; trying again), refused (the service refused an update; joining with a new
 * document), ended (the session is over: nothing more is sent), signin (the hub did not
 * sign the page in to the service, e.g. its login expired: trying again).
 * @typedef {"connecting" | "synced" | "offline" | "refused" | "ended" | "signin"} LiveState
 */

/**
 * @typedef {object} ProviderHooks
 * @property {(state: LiveState) => void} onState
 * @property {(doc: Y.Doc) => void} onDoc a new document (after a refusal): bind to it
 */

const MESSAGE_SYNC = 0;
const MESSAGE_AUTH = 2;
const STEP1 = 0;
const STEP2 = 1;
/** Close codes of the service (dicomteach/live/sessions.py). */
const CLOSE_REFUSED = 4403;
const CLOSE_ENDED = 4410;
/** Waits between attempts to reconnect (ms): doubling from the first to the last. */
const RETRY_FIRST_MS = 500;
const RETRY_LAST_MS = 8000;

/**
 * The vendored Yjs module, asked of the kernel once per page (every widget's views
 * share one copy: two copies of Yjs in a page break its type checks).
 * @param {AnyModel<any>} model
 * @returns {Promise<YModule>}
 */
export function loadYjs(model) {
  const page = /** @type {{__dicomteachYjs?: Promise<YModule>}} */ (globalThis);
  if (!page.__dicomteachYjs) {
    page.__dicomteachYjs = new Promise((resolve, reject) => {
      /** @type {(msg: any, buffers: DataView[]) => void} */
      const heard = (msg, buffers) => {
        if (!msg || msg.type !== "live_module") return;
        model.off("msg:custom", heard);
        const url = URL.createObjectURL(new Blob([/** @type {DataView<ArrayBuffer>} */ (buffers[0])], { type: "text/javascript" }));
        import(url).then(resolve, reject).finally(() => URL.revokeObjectURL(url));
      };
      model.on("msg:custom", heard);
      model.send({ type: "live", action: "module" });
    });
    page.__dicomteachYjs.catch(() => {
      page.__dicomteachYjs = undefined;
    });
  }
  return page.__dicomteachYjs;
}

/**
 * Sign this page in to the live service: HubOAuth's round trip with the hub, which
 * ends by setting the service's cookie, the one its websocket checks. A same-origin
 * `no-cors` GET follows the redirects like a page load, and JupyterHub asks no XSRF
 * token of it (a `cors` fetch would be refused its cookie and sent round again).
 * @param {string} service the service's path, e.g. "/services/live/"
 */
export async function signIn(service) {
  const answer = await fetch(service, { mode: "no-cors", credentials: "same-origin", cache: "no-store" });
  const where = new URL(answer.url || service, location.href).pathname;
  if (!answer.ok || !where.startsWith(service)) {
    throw new Error(`not signed in to the live service (ended at ${where}): log in to the hub again`);
  }
}

/** A session's document and its connection to the service (module comment). */
export class LiveProvider {
  /**
   * @param {YModule} Y
   * @param {string} service the service's path ("/services/live/")
   * @param {string} sync the session's websocket path
   * @param {ProviderHooks} hooks
   */
  constructor(Y, service, sync, hooks) {
    this.Y = Y;
    this.service = service;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.url = `${scheme}//${location.host}${sync}`;
    this.hooks = hooks;
    /** @type {LiveState} */
    this.state = "connecting";
    /** @type {WebSocket | null} */
    this.ws = null;
    /** True once this connection answered the service's step 1: updates may go out. */
    this.answered = false;
    /** Connections opened so far. */
    this.joins = 0;
    /** Documents started after a refusal. */
    this.restarts = 0;
    /** The service's last refusal, as it gave it. */
    this.refusal = "";
    /** Why the page could not sign in to the service ("" when it could). */
    this.problem = "";
    this.retries = 0;
    this.stopped = false;
    this.signedIn = false;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    /** @type {(update: Uint8Array, origin: unknown) => void} */
    this.onUpdate = (update, origin) => {
      if (origin !== this && this.ws && this.answered) this.send(this.updateMessage(update));
    };
    this.doc = this.newDoc();
  }

  /** @returns {Y.Doc} */
  newDoc() {
    const doc = new this.Y.Doc();
    doc.on("update", this.onUpdate);
    return doc;
  }

  start() {
    this.connect();
  }

  /** @param {LiveState} state */
  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.hooks.onState(state);
  }

  get ended() {
    return this.doc.getMap("session").get("ended") === true;
  }

  async connect() {
    if (this.stopped) return;
    if (!this.signedIn) {
      try {
        await signIn(this.service);
        this.signedIn = true;
        this.problem = "";
      } catch (error) {
        // fetch rejects when the network is away; it resolves when the hub sent the page
        // elsewhere (its login): the person must log in again
        const away = error instanceof TypeError;
        this.problem = away ? "" : String(/** @type {Error} */ (error).message || error);
        this.setState(away ? "offline" : "signin");
        this.retryLater();
        return;
      }
      if (this.stopped) return;
    }
    const ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.answered = false;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.joins += 1;
      const { encoding, sync } = this.Y;
      const out = encoding.createEncoder();
      encoding.writeVarUint(out, MESSAGE_SYNC);
      sync.writeSyncStep1(out, this.doc);
      this.send(encoding.toUint8Array(out));
    };
    ws.onmessage = (event) => {
      if (this.ws === ws) this.receive(new Uint8Array(/** @type {ArrayBuffer} */ (event.data)));
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.answered = false;
      // Refused at the door (403: the service's cookie is gone, 410: ended): sign in again.
      if (!opened) this.signedIn = false;
      this.closed(event.code, event.reason);
    };
  }

  /**
   * @param {number} code
   * @param {string} reason
   */
  closed(code, reason) {
    if (this.stopped) return;
    if (code === CLOSE_ENDED || this.ended) {
      this.setState("ended");
      return;
    }
    if (code === CLOSE_REFUSED) {
      // The document holds what was refused, and every later update would build on it:
      // start again from the service's copy (docs/live.md).
      this.refusal = this.refusal || reason;
      this.restarts += 1;
      this.doc.off("update", this.onUpdate);
      this.doc.destroy();
      this.doc = this.newDoc();
      this.hooks.onDoc(this.doc);
      this.setState("refused");
      this.retries = 0;
      this.connect();
      return;
    }
    this.setState("offline");
    this.retryLater();
  }

  retryLater() {
    clearTimeout(this.timer);
    const wait = Math.min(RETRY_LAST_MS, RETRY_FIRST_MS * 2 ** this.retries);
    this.retries += 1;
    this.timer = setTimeout(() => this.connect(), wait);
  }

  /** @param {Uint8Array} data */
  receive(data) {
    const { encoding, decoding, sync } = this.Y;
    const input = decoding.createDecoder(data);
    const type = decoding.readVarUint(input);
    if (type === MESSAGE_SYNC) {
      const out = encoding.createEncoder();
      encoding.writeVarUint(out, MESSAGE_SYNC);
      // Applied with this provider as origin: onUpdate does not send it back.
      const kind = sync.readSyncMessage(input, out, this.doc, this);
      if (encoding.length(out) > 1) this.send(encoding.toUint8Array(out));
      if (kind === STEP1) this.answered = true;
      if (kind === STEP2) {
        this.retries = 0;
        this.setState(this.ended ? "ended" : "synced");
      }
    } else if (type === MESSAGE_AUTH) {
      decoding.readVarUint(input); // permission denied: the only one the service sends
      this.refusal = decoding.readVarString(input);
    }
  }

  /** @param {Uint8Array} update */
  updateMessage(update) {
    const { encoding, sync } = this.Y;
    const out = encoding.createEncoder();
    encoding.writeVarUint(out, MESSAGE_SYNC);
    sync.writeUpdate(out, update);
    return encoding.toUint8Array(out);
  }

  /** @param {Uint8Array} message */
  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(/** @type {Uint8Array<ArrayBuffer>} */ (message));
    }
  }

  /**
   * Change the document in one transaction (sent as one update when connected).
   * @param {() => void} change
   */
  change(change) {
    this.doc.transact(change);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000, "left");
    }
    this.doc.off("update", this.onUpdate);
    this.doc.destroy();
  }
}
