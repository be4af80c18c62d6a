// The part of anywidget's front-end API the widgets use, as TypeScript types for the
// checkJs run (tsconfig.json). Types only: nothing here runs or ships as code.
//
// A widget's ES module exports `default { render }`; anywidget calls
// render({ model, el }) for every view of the widget and the function it returns when
// the view goes away. `model` mirrors the Python class's synced traits.

/** Synced traits of a widget, by name (the Python class's `.tag(sync=True)` traitlets). */
export type State = object;

/** What `msg:custom` handlers receive: the JSON content and its binary buffers. */
export type CustomMessageHandler = (content: any, buffers: DataView[]) => void;

/** One widget's model as a view sees it. */
export interface AnyModel<S extends State = State> {
  /** The current value of a synced trait. */
  get<K extends keyof S & string>(name: K): S[K];
  /** Change a synced trait locally; sent to the kernel by save_changes(). */
  set<K extends keyof S & string>(name: K, value: S[K]): void;
  /** Send the traits set since the last call to the kernel. */
  save_changes(): void;
  /** `change:NAME` (a trait changed, here, in the kernel or in another view) or `msg:custom`. */
  on(event: "msg:custom", handler: CustomMessageHandler): void;
  on(event: string, handler: () => void): void;
  off(event: "msg:custom", handler: CustomMessageHandler): void;
  off(event: string, handler: () => void): void;
  /** A custom message to the kernel (ImageWidget._on_message), with binary buffers. */
  send(content: object, callbacks?: unknown, buffers?: ArrayBuffer[]): void;
  /** The page's ipywidgets manager (anywidget passes it on, untyped). */
  widget_manager?: WidgetManager;
}

/** The part of the page's ipywidgets manager hearKernel uses (core/sync.js). */
export interface WidgetManager {
  /** The model registered under a comm id (rejects when there is none). */
  get_model(id: string): Promise<BackboneModel>;
}

/** An ipywidgets model as the widget manager holds it: its comm and message handler. */
export interface BackboneModel {
  comm?: { on_msg(handler: (msg: unknown) => void): void };
  _handle_comm_msg?: (msg: unknown) => unknown;
}

/** What render() receives for one view. */
export interface RenderProps<S extends State = State> {
  model: AnyModel<S>;
  /** The view's root element, empty, owned by the widget until the cleanup runs. */
  el: HTMLElement;
}

/** What render() may return (or resolve to): called when the view is removed. */
export type Cleanup = () => void;

/** The default export of a widget's entry module. */
export interface WidgetModule<S extends State = State> {
  render(props: RenderProps<S>): Cleanup | void | Promise<Cleanup | void>;
}
