// The synced traits of ImageWidget (dicomteach/widgets/_base.py) that every image
// widget's view reads: the contract between the Python class and core/scene.js.
// Types only. A widget's own traits extend these in its entry module.

import type { Layout } from "./geometry.js";
import type { LayerInfo } from "./layers.js";
import type { LabelStyle } from "./draw.js";
import type { Measurement } from "./measurements.js";

/** A window preset button: a window, or one of the image's VOI LUT tables. */
export interface Preset {
  name: string;
  center?: number;
  width?: number;
  function?: string;
  voi_table?: number | null;
}

export interface ImageState {
  /** set once the Python __init__ has set everything: views wait for it (stateComplete) */
  state_complete: boolean;
  /** the comm's id: how the page's widget manager knows this model (hearKernel) */
  own_model_id: string;
  /** the view's ask for the whole state the kernel answered last (askState) */
  state_reply: string;
  /** [frames, rows, cols] */
  shape: number[];
  /** mm along each array axis */
  spacing: number[];
  /** patient LPS mm of the first voxel */
  origin: number[];
  /** 3×3 row-major, one row per array axis */
  direction: number[];
  geometry_known: boolean;
  /** by plane name */
  layouts: Record<string, Layout>;
  planes: string[];
  modality: string;
  units: string;
  description: string;
  /** why there is no image ("" when there is) */
  error: string;
  /** the streamed arrays by name */
  layers: Record<string, LayerInfo>;
  plane: string;
  /** the array index on screen */
  position: number[];
  initial_position: number[];
  window_center: number;
  window_width: number;
  voi_function: string;
  voi_table: number | null;
  initial_window: { center: number; width: number; function: string; voi_table?: number | null };
  presets: Preset[];
  zoom: number;
  /** fractions of the viewport's width and height */
  pan: number[];
  tools: string[];
  tool: string;
  measurements: Measurement[];
  /** frames per second of a cine loop, 0 for none */
  fps: number;
  label_info: LabelStyle[];
  overlay_opacity: number;
  overlay_mode: string;
  overlay_visible: boolean;
}
