// The arrays a widget streams from the kernel (ImageWidget in widgets/_base.py): each
// "layer" (the image's stored values, a fused image, labels…) arrives once, in chunks of
// whole frames nearest the slice on screen first, and is patched box by box when the
// kernel changes part of it. Nothing here touches the DOM or the model: the scene
// (scene.js) feeds messages in and redraws.

import { modalityValue } from "./voi.js";

/** @import { LutTable } from "./voi.js" */
/** @import { Layout } from "./geometry.js" */

/**
 * What the kernel says about one layer (ImageWidget.layers[name]); a new `generation`
 * means new contents, streamed again.
 * @typedef {object} LayerInfo
 * @property {"int16" | "uint16" | "uint8" | "int8"} dtype
 * @property {number} generation
 * @property {number} [channels] 3 for RGB, else 1
 * @property {boolean} [inverted] MONOCHROME1
 * @property {[number, number]} [stored_range] lowest and highest stored value
 * @property {number[]} [rescale_slope] one value, or one per frame
 * @property {number[]} [rescale_intercept] one value, or one per frame
 * @property {LutTable} [modality_lut]
 * @property {LutTable[]} [voi_luts]
 * @property {number[] | null} [colormap_table] 256 × [r, g, b], flat
 * @property {number} [window_center] a fused layer's own window
 * @property {number} [window_width]
 * @property {string} [voi_function]
 * @property {number} [opacity] a fused layer's opacity
 * @property {string} [units]
 */

/**
 * Frames start..start+count-1 of a layer (ImageWidget._pump); one buffer, C order.
 * `stream` names the view that asked for it (Scene.origin), which acknowledges `seq`.
 * @typedef {object} ChunkMessage
 * @property {"chunk"} type
 * @property {string} layer
 * @property {number} generation
 * @property {number} start
 * @property {number} count
 * @property {string} [stream]
 * @property {number} [seq]
 */

/**
 * New values of a box of a layer, [[k0, k1], [r0, r1], [c0, c1]] in array order
 * (ImageWidget._patch_layer); `origin` names the view whose edit it acknowledges.
 * @typedef {object} PatchMessage
 * @property {"patch"} type
 * @property {string} layer
 * @property {number} generation
 * @property {[[number, number], [number, number], [number, number]]} box
 * @property {string} [origin]
 * @property {number} [seq]
 * @property {number} [revision]
 */

/** @typedef {Int16Array | Uint16Array | Uint8Array | Int8Array} StoredArray */

const TYPED = { int16: Int16Array, uint16: Uint16Array, uint8: Uint8Array, int8: Int8Array };

/**
 * The stored value → RGBA word table cached for one window (draw.js displayLut); entry
 * i is for the stored value i + lo.
 * @typedef {{key: string, rgba: Uint32Array, lo: number}} DisplayLutCache
 */

/** One array streamed from the kernel: an image (stored values) or labels. */
export class Layer {
  /**
   * @param {string} name
   * @param {LayerInfo} info
   * @param {number[]} shape [frames, rows, cols] of the widget's image
   */
  constructor(name, info, shape) {
    this.name = name;
    this.info = info;
    this.shape = shape;
    this.channels = info.channels || 1;
    this.frameSize = shape[1] * shape[2] * this.channels;
    const Typed = TYPED[info.dtype];
    if (!Typed) throw new Error(`layer ${name}: unknown dtype ${info.dtype}`);
    /** @type {StoredArray} */
    this.data = new Typed(shape[0] * this.frameSize);
    this.loaded = new Uint8Array(shape[0]);
    this.nLoaded = 0;
    this.generation = info.generation;
    /** @type {DisplayLutCache | null} */
    this.lutCache = null;
    /**
     * Lowest and highest stored value in the array (the kernel's stored_range, widened
     * by patches), or null when unknown.
     * @type {[number, number] | null}
     */
    this.range = info.stored_range ? [info.stored_range[0], info.stored_range[1]] : null;
    /** The frame last asked of the kernel first (Scene.request, Scene.wantShown). */
    this.wanted = -1;
  }

  /**
   * A message buffer as values of this layer's type; copied when not aligned.
   * @param {DataView} view
   * @returns {StoredArray}
   */
  typed(view) {
    const Typed = TYPED[this.info.dtype];
    const bytes = Typed.BYTES_PER_ELEMENT;
    let buffer = /** @type {ArrayBuffer} */ (view.buffer);
    let offset = view.byteOffset;
    if (offset % bytes !== 0) {
      buffer = buffer.slice(offset, offset + view.byteLength);
      offset = 0;
    }
    // Little-endian on the wire; typed arrays read platform order, little-endian everywhere we run.
    return new Typed(buffer, offset, view.byteLength / Typed.BYTES_PER_ELEMENT);
  }

  /**
   * Frames start..start+count-1 arrived.
   * @param {number} start
   * @param {number} count
   * @param {DataView} view
   */
  accept(start, count, view) {
    this.data.set(this.typed(view), start * this.frameSize);
    for (let f = start; f < start + count; f++) {
      if (!this.loaded[f]) {
        this.loaded[f] = 1;
        this.nLoaded += 1;
      }
    }
  }

  /**
   * Replace one box of the array, [[k0, k1], [r0, r1], [c0, c1]] in array order, with
   * the box's values in C order (ImageWidget._patch_layer).
   * @param {PatchMessage["box"]} box
   * @param {DataView} view
   * @returns {boolean} false if the sizes disagree (nothing changed)
   */
  patch(box, view) {
    const src = this.typed(view);
    const [[k0, k1], [r0, r1], [c0, c1]] = box;
    const [n, rows, cols] = this.shape;
    if (!(0 <= k0 && k0 <= k1 && k1 <= n && 0 <= r0 && r0 <= r1 && r1 <= rows &&
      0 <= c0 && c0 <= c1 && c1 <= cols)) return false;
    const w = (c1 - c0) * this.channels;
    if (src.length !== (k1 - k0) * (r1 - r0) * w) return false;
    let j = 0;
    for (let k = k0; k < k1; k++) {
      for (let r = r0; r < r1; r++, j += w) {
        this.data.set(src.subarray(j, j + w), ((k * rows + r) * cols + c0) * this.channels);
      }
    }
    if (this.range) this.widen(src);
    return true;
  }

  /**
   * Widen the known stored range to hold these values.
   * @param {ArrayLike<number>} values
   */
  widen(values) {
    if (!this.range) return;
    let [lo, hi] = this.range;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (lo !== this.range[0] || hi !== this.range[1]) {
      this.range = [lo, hi];
      this.lutCache = null;
    }
  }

  get complete() {
    return this.nLoaded === this.shape[0];
  }

  /**
   * Is slice s of this layout here? A reformatted slice needs every frame.
   * @param {Layout} layout
   * @param {number} s
   */
  loadedOn(layout, s) {
    if (layout.slice_axis === 0) return !!this.loaded[s];
    return this.complete;
  }

  /** @param {number} f */
  slope(f) {
    const s = this.info.rescale_slope || [1];
    return s.length === 1 ? s[0] : s[f];
  }

  /** @param {number} f */
  intercept(f) {
    const s = this.info.rescale_intercept || [0];
    return s.length === 1 ? s[0] : s[f];
  }

  /**
   * Modality value of the element at flat index (grey images).
   * @param {number} index
   */
  value(index) {
    const f = Math.floor(index / this.frameSize);
    return modalityValue(this.data[index], this.slope(f), this.intercept(f), this.info.modality_lut);
  }
}

/**
 * Bring `layers` in line with the kernel's list: a layer of a new generation is
 * replaced by an empty one, a removed one dropped.
 * @param {Map<string, Layer>} layers
 * @param {Record<string, LayerInfo>} infos ImageWidget.layers
 * @param {number[]} shape
 * @returns {string[]} the layers to ask the kernel for ({type: "ready"})
 */
export function syncLayers(layers, infos, shape) {
  const wanted = [];
  for (const [name, info] of Object.entries(infos)) {
    const old = layers.get(name);
    if (old && old.generation === info.generation) {
      old.info = info;
      old.lutCache = null;
      if (info.stored_range) old.widen(info.stored_range);
      continue;
    }
    layers.set(name, new Layer(name, info, shape));
    wanted.push(name);
  }
  for (const name of [...layers.keys()]) if (!(name in infos)) layers.delete(name);
  return wanted;
}

/**
 * A chunk for the current generation of a layer: stored.
 * @param {Map<string, Layer>} layers
 * @param {ChunkMessage} msg
 * @param {DataView[]} buffers
 * @returns {Layer | null} the layer it filled, null if it was stale
 */
export function acceptChunk(layers, msg, buffers) {
  const layer = layers.get(msg.layer);
  if (!layer || layer.generation !== msg.generation || !buffers || !buffers.length) return null;
  layer.accept(msg.start, msg.count, buffers[0]);
  return layer;
}

/**
 * A box of a layer changed in the kernel (an undo, another view's edit…). The view
 * whose edit it acknowledges (msg.origin === origin) already shows it: applying it
 * again could overwrite a stroke begun since.
 * @param {Map<string, Layer>} layers
 * @param {PatchMessage} msg
 * @param {DataView[]} buffers
 * @param {string} origin this view's name
 * @returns {boolean} true when the layer changed
 */
export function applyPatch(layers, msg, buffers, origin) {
  const layer = layers.get(msg.layer);
  if (!layer || layer.generation !== msg.generation || !buffers || !buffers.length) return false;
  if (msg.origin && msg.origin === origin) return false;
  return layer.patch(msg.box, buffers[0]);
}
