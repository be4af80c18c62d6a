// dicomteach question widgets (questions.py): Hotspot and LabelDrop.
// The learner's points live in `marks` ({image: [frame, row, col], label}),
// array indices with pixel centres whole numbers; the kernel checks every
// change, adds patient mm and writes the answer file (DESIGN.md decision 3).
// Everything else (scroll, W/L, zoom, pan, reformats) is the Viewer's core.

const Q_GRAB_PX = 12; // a press this close (screen px) to a marker grabs it
const Q_DRAG_PX = 4; // a chip moved less than this was clicked, not dragged
const Q_SAVE_WAIT_MS = 5000; // no word from the kernel after this long: say so
const Q_TOOL_NAMES = {
  hotspot: ["Mark", "Mark the finding: click on the image; drag a marker to move it"],
  label: ["Label", "Place labels: drag a label onto the image; drag it off to take it back"],
};
const Q_HOTSPOT_COLOR = [255, 213, 79];

function qRound(v) {
  return Math.round(v * 1000) / 1000 + 0; // + 0: no -0 in the JSON
}

function qClone(value) {
  return JSON.parse(JSON.stringify(value));
}

function qRgb(c) {
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

function qInside(rect, x, y) {
  return x >= rect.left && x < rect.right && y >= rect.top && y < rect.bottom;
}

// The answer of one view: markers on the image, the chips or the list, the status.
class Answering {
  constructor(model, scene, root) {
    this.model = model;
    this.scene = scene;
    this.root = root;
    this.kind = model.get("question") === "labels" ? "labels" : "hotspot";
    this.toolName = this.kind === "labels" ? "label" : "hotspot";
    this.marks = qClone(model.get("marks"));
    this.selected = -1;
    this.armed = null; // LabelDrop: a chip chosen by click or keyboard, placed by the next click
    this.drag = null; // a marker being dragged on the image
    this.chipDrag = null; // a chip being dragged from the side panel
    this.preview = null; // where a dragged chip would land {x, y, label}, display coordinates
    this.hint = "";
    this.pendingSince = 0;
    this.dragEndedAt = 0;
    this.viewport = null;
    // The marks go to the kernel with the scene's state; during a drag they stay here.
    scene.track("marks", () => (this.drag || this.chipDrag ? undefined : this.marks),
      (marks) => this.fromModel(marks));
    scene.watch(["save_state"], () => this.savedFromModel());
    scene.watch(["notice"], () => this.showNotice());
    scene.watch(["prompt"], () => this.showPrompt());

    this.promptEl = el_("div", "dt-q-prompt");
    this.noticeEl = el_("div", "dt-q-notice");
    this.noticeEl.setAttribute("role", "alert");
    this.statusEl = el_("div", "dt-q-status");
    this.statusEl.setAttribute("aria-live", "polite");
    this.countEl = el_("span", "dt-q-count");
    this.hintEl = el_("span", "dt-q-hint");
    this.savedEl = el_("span", "dt-q-saved");
    this.statusEl.append(this.countEl, this.hintEl, this.savedEl);
    this.side = el_("div", "dt-q-side");
    this.listEl = el_("ol", "dt-q-list");
    this.listEl.setAttribute("aria-label", "Your markers");
    this.chipButtons = new Map();
    if (this.kind === "labels") this.buildChips();
    this.showPrompt();
    this.showNotice();
  }

  // ---- coordinates

  layout() {
    return this.scene.layout;
  }

  // Array (frame, row, col) → the current plane's slice and display x, y (pixel edges whole).
  toDisplay(image) {
    return this.viewport.fromArray(image);
  }

  // Display x, y on the slice on screen → array (frame, row, col), kept on the image
  // (pixel centres: from 0.5 to cols − 0.5 across, rows − 0.5 down).
  toImage(x, y) {
    const layout = this.layout();
    const p = {
      x: Math.min(layout.cols - 0.5, Math.max(0.5, x)),
      y: Math.min(layout.rows - 0.5, Math.max(0.5, y)),
    };
    return this.viewport.toArray(p).map(qRound);
  }

  onSlice(image) {
    return Math.round(this.toDisplay(image).slice) === this.scene.slice;
  }

  // Outside the picture: off the image, or off the part of it the viewport shows.
  outside(vp, event) {
    const x = event.clientX, y = event.clientY;
    return !(qInside(vp.canvas.getBoundingClientRect(), x, y) &&
      qInside(vp.root.getBoundingClientRect(), x, y));
  }

  // The marker under the pointer (nearest within Q_GRAB_PX), or -1.
  hit(vp, event) {
    const box = vp.root.getBoundingClientRect();
    const px = event.clientX - box.left, py = event.clientY - box.top;
    let best = -1, bestDistance = Q_GRAB_PX;
    this.marks.forEach((m, i) => {
      if (!this.onSlice(m.image)) return;
      const d = this.toDisplay(m.image);
      const [sx, sy] = vp.toScreen(d.x, d.y);
      const distance = Math.hypot(sx - px, sy - py);
      if (distance <= bestDistance) {
        best = i;
        bestDistance = distance;
      }
    });
    return best;
  }

  // ---- rules

  maxPoints() {
    return this.model.get("max_points") || 1;
  }

  count(label) {
    return this.marks.filter((m) => m.label === label).length;
  }

  canPlace(label) {
    const max = this.model.get("max_per_label");
    return !max || this.count(label) < max;
  }

  colorOf(label) {
    if (this.kind === "hotspot") return Q_HOTSPOT_COLOR;
    const choice = this.model.get("choices").find((c) => c.name === label);
    return choice ? choice.color : [255, 255, 255];
  }

  // ---- changes

  // Send the marks to the kernel, which checks and saves them.
  commit() {
    if (JSON.stringify(this.marks) !== JSON.stringify(this.model.get("marks"))) {
      this.scene.scheduleSend();
      this.pendingSince = performance.now();
      setTimeout(() => this.showStatus(), Q_SAVE_WAIT_MS + 50);
    }
    this.refresh();
  }

  // Marks from the kernel (checked, rounded) or another view.
  fromModel(marks) {
    if (this.drag || this.chipDrag) return; // the gesture's end commits its own state
    if (JSON.stringify(marks) === JSON.stringify(this.marks)) return;
    this.marks = qClone(marks);
    if (this.selected >= this.marks.length) this.selected = -1;
    this.refresh();
  }

  say(hint) {
    this.hint = hint;
    this.showStatus();
  }

  select(index, show = true) {
    this.selected = index;
    if (index >= 0 && show && !this.onSlice(this.marks[index].image)) {
      this.scene.setSlice(Math.round(this.toDisplay(this.marks[index].image).slice));
    }
    if (index >= 0) {
      this.hint = "Selected: drag it or press the arrow keys to move it, Delete to remove it.";
    }
    this.refresh();
  }

  arm(label) {
    this.armed = label;
    if (label) this.hint = `Now click on the image (or press Enter) to place “${label}”.`;
    this.refresh();
  }

  remove(index) {
    if (index < 0 || index >= this.marks.length) return;
    this.marks.splice(index, 1);
    if (this.selected === index) this.selected = -1;
    else if (this.selected > index) this.selected -= 1;
    this.hint = "";
    this.commit();
  }

  // A new marker at display (x, y) of the slice on screen; returns its index or -1.
  place(x, y, label = "") {
    const image = this.toImage(x, y);
    if (this.kind === "hotspot") {
      const max = this.maxPoints();
      if (this.marks.length >= max) {
        if (max > 1) {
          this.say(`All ${max} markers are placed: drag one to move it, or remove one first.`);
          return -1;
        }
        this.marks[0] = { image, label: "" };
        return 0;
      }
      this.marks.push({ image, label: "" });
      return this.marks.length - 1;
    }
    if (!label) {
      this.say("Drag a label from the list onto the image, or choose one and then click here.");
      return -1;
    }
    if (!this.canPlace(label)) {
      this.say(`“${label}” is already placed: drag its marker to move it.`);
      return -1;
    }
    this.marks.push({ image, label });
    return this.marks.length - 1;
  }

  // ---- the answer tool on the image (left button)

  tool() {
    return {
      down: (event, p, vp) => this.down(event, p, vp),
      move: (event, p, vp) => this.move(event, p, vp),
      up: (event, p, vp, cancelled) => this.up(event, p, vp, cancelled),
      hover: (event, p, vp) => vp.root.classList.toggle("dt-q-grab", this.hit(vp, event) >= 0),
    };
  }

  down(event, p, vp) {
    const grabbed = this.hit(vp, event);
    if (grabbed >= 0) {
      const d = this.toDisplay(this.marks[grabbed].image);
      this.drag = {
        index: grabbed, start: this.marks[grabbed].image.slice(),
        dx: d.x - p.x, dy: d.y - p.y, x: d.x, y: d.y, outside: false,
      };
      this.select(grabbed);
      return true;
    }
    if (!p.inside) return false;
    const before = this.marks.map((m) => m.image.slice());
    const index = this.place(p.x, p.y, this.armed || "");
    if (index < 0) return false;
    // A marker moved by the click (max_points 1) goes back there if the gesture is cancelled.
    this.drag = {
      index, start: index < before.length ? before[index] : null,
      dx: 0, dy: 0, x: p.x, y: p.y, outside: false,
    };
    if (this.armed) this.armed = null;
    this.hint = "";
    this.select(index, false);
    return true;
  }

  move(event, p, vp) {
    const g = this.drag;
    if (!g) return;
    g.x = p.x + g.dx;
    g.y = p.y + g.dy;
    g.outside = this.outside(vp, event);
    this.marks[g.index] = { ...this.marks[g.index], image: this.toImage(g.x, g.y) };
    this.refreshMarkers();
  }

  up(event, p, vp, cancelled) {
    const g = this.drag;
    if (!g) return;
    this.drag = null;
    if (cancelled) {
      if (g.start) this.marks[g.index] = { ...this.marks[g.index], image: g.start };
      else this.remove(g.index);
    } else if (g.outside && this.kind === "labels") {
      // Dragged off the image: the label goes back to the list.
      const label = this.marks[g.index].label;
      this.remove(g.index);
      this.say(`“${label}” taken back.`);
    }
    // A hotspot let go outside the image stays at its edge, where it is drawn.
    this.commit();
  }

  // ---- keyboard: before the standard keys (standardControls' onKeyFirst), so that
  // arrows move a selected marker instead of the slice. True when the key was used.

  key(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return false;
    const target = event.target;
    const control = target !== this.root && target.closest
      ? target.closest("button, input, select, textarea") : null;
    const typing = control && control.tagName !== "BUTTON";
    const key = event.key;
    if (key === "Enter" && !control) return this.placeByKey();
    if (key.startsWith("Arrow") && this.selected >= 0 && !typing) return this.nudge(key);
    if (key === "Escape" && (this.selected >= 0 || this.armed)) {
      this.armed = null;
      this.hint = "";
      this.select(-1);
      return true;
    }
    return false;
  }

  // Delete / Backspace (standardControls' onDelete): the selected marker, else the last.
  deleteMarker() {
    if (!this.marks.length) return false;
    this.remove(this.selected >= 0 ? this.selected : this.marks.length - 1);
    return true;
  }

  // Enter: a marker at the mouse, or at the centre of the image when the mouse is not on it.
  placeByKey() {
    const vp = this.viewport;
    const layout = this.layout();
    const c = vp && vp.cursor;
    const x = c ? c.x : Math.floor(layout.cols / 2) + 0.5;
    const y = c ? c.y : Math.floor(layout.rows / 2) + 0.5;
    const index = this.place(x, y, this.armed || "");
    if (index >= 0) {
      this.armed = null;
      this.select(index, false);
      this.commit();
    }
    return true;
  }

  nudge(key) {
    const m = this.marks[this.selected];
    if (!this.onSlice(m.image)) {
      this.select(this.selected);
      return true;
    }
    const d = this.toDisplay(m.image);
    const dx = key === "ArrowLeft" ? -1 : key === "ArrowRight" ? 1 : 0;
    const dy = key === "ArrowUp" ? -1 : key === "ArrowDown" ? 1 : 0;
    this.marks[this.selected] = { ...m, image: this.toImage(d.x + dx, d.y + dy) };
    this.commit();
    return true;
  }

  // ---- LabelDrop: the chips

  buildChips() {
    const heading = el_("div", "dt-q-side-title", "Labels");
    heading.id = `dt-q-${Math.random().toString(36).slice(2)}`;
    const group = el_("div", "dt-q-chips");
    group.setAttribute("role", "group");
    group.setAttribute("aria-labelledby", heading.id);
    for (const choice of this.model.get("choices")) {
      const name = choice.name;
      const row = el_("div", "dt-q-chip-row");
      row.dataset.label = name;
      const chip = el_("button", "dt-q-chip");
      chip.type = "button";
      chip.dataset.label = name;
      const swatch = el_("span", "dt-q-swatch");
      swatch.style.background = qRgb(choice.color);
      chip.append(swatch, el_("span", "dt-q-chip-name", name), el_("span", "dt-q-chip-count"));
      const remove = button("×", `Take back “${name}”`, () => {
        let last = -1;
        this.marks.forEach((m, i) => { if (m.label === name) last = i; });
        this.remove(last);
        this.root.focus({ preventScroll: true }); // the button hides: keep the keys in the widget
      });
      remove.classList.add("dt-q-remove");
      remove.dataset.action = "remove";
      row.append(chip, remove);
      group.append(row);
      this.chipButtons.set(name, { chip, remove, row });
      this.listenChip(chip, name);
    }
    this.side.append(heading, group);
  }

  chipClicked(name) {
    if (performance.now() - this.dragEndedAt < 400) return; // the click that ends a drag
    if (!this.canPlace(name)) {
      const index = this.marks.findIndex((m) => m.label === name);
      if (index >= 0) this.select(index);
    } else {
      this.selected = -1;
      this.arm(this.armed === name ? null : name);
    }
    this.root.focus({ preventScroll: true }); // Enter now places it, arrows move it
  }

  listenChip(chip, name) {
    chip.addEventListener("click", () => this.chipClicked(name));
    chip.addEventListener("pointerdown", (event) => {
      if (event.button !== 0 || !this.canPlace(name)) return;
      event.preventDefault();
      event.stopPropagation(); // not a cell selection in the notebook
      chip.setPointerCapture(event.pointerId);
      this.chipDrag = { name, chip, x0: event.clientX, y0: event.clientY, dragging: false };
    });
    chip.addEventListener("pointermove", (event) => {
      const d = this.chipDrag;
      const vp = this.viewport;
      if (!d || d.chip !== chip || !vp) return;
      const dx = event.clientX - d.x0, dy = event.clientY - d.y0;
      if (!d.dragging && Math.hypot(dx, dy) < Q_DRAG_PX) return;
      d.dragging = true;
      chip.classList.add("dt-q-dragging");
      chip.style.transform = `translate(${dx}px, ${dy}px)`;
      const over = !this.outside(vp, event);
      vp.root.classList.toggle("dt-q-drop", over);
      // Over the image the chip gives way to the marker it would become, so the spot shows.
      chip.classList.toggle("dt-q-over-image", over);
      const p = vp.pointAt(event);
      this.preview = over ? { x: p.x, y: p.y, label: name } : null;
      this.refreshMarkers();
    });
    const end = (event, cancelled) => {
      const d = this.chipDrag;
      const vp = this.viewport;
      if (!d || d.chip !== chip) return;
      this.chipDrag = null;
      this.preview = null;
      chip.style.transform = "";
      chip.classList.remove("dt-q-dragging", "dt-q-over-image");
      if (chip.hasPointerCapture(event.pointerId)) chip.releasePointerCapture(event.pointerId);
      if (vp) vp.root.classList.remove("dt-q-drop");
      if (!d.dragging) return; // a click: "click" arms the chip
      this.dragEndedAt = performance.now();
      if (!cancelled && vp && !this.outside(vp, event)) {
        const p = vp.pointAt(event);
        const index = this.place(p.x, p.y, name);
        if (index >= 0) {
          this.armed = null;
          this.hint = "";
          this.select(index, false);
          this.root.focus({ preventScroll: true });
        }
      }
      this.commit();
    };
    chip.addEventListener("pointerup", (event) => end(event, false));
    chip.addEventListener("pointercancel", (event) => end(event, true));
  }

  // ---- drawing

  refresh() {
    this.refreshMarkers();
    if (this.kind === "labels") this.showChips();
    else this.showList();
    this.showStatus();
  }

  refreshMarkers() {
    for (const vp of this.scene.viewports) vp.drawAnnotations();
  }

  // Called by the viewport after it redraws its SVG (options.onAnnotations).
  drawMarkers(vp) {
    const group = svg("g", { class: "dt-q-markers" });
    this.marks.forEach((m, i) => {
      const g = this.drag && this.drag.index === i ? this.drag : null;
      let d = this.toDisplay(m.image);
      const leaving = !!(g && g.outside && this.kind === "labels");
      if (leaving) d = { slice: this.scene.slice, x: g.x, y: g.y };
      if (Math.round(d.slice) !== this.scene.slice) return;
      const text = this.kind === "labels" ? m.label : this.maxPoints() > 1 ? String(i + 1) : "";
      const node = this.marker(vp, d.x, d.y, text, this.colorOf(m.label));
      node.setAttribute("data-index", String(i));
      node.setAttribute("data-label", m.label);
      node.setAttribute("data-image", JSON.stringify(m.image));
      if (i === this.selected) node.classList.add("dt-q-selected");
      if (leaving) node.classList.add("dt-q-leaving");
      group.append(node);
    });
    if (this.preview) {
      const p = this.preview;
      const node = this.marker(vp, p.x, p.y, p.label, this.colorOf(p.label));
      node.classList.add("dt-q-preview");
      group.append(node);
    }
    vp.svg.append(group);
  }

  marker(vp, x, y, text, color) {
    const [sx, sy] = vp.toScreen(x, y);
    const g = svg("g", { class: "dt-q-marker" });
    const stroke = qRgb(color);
    g.append(
      svg("circle", { class: "dt-q-halo", cx: sx, cy: sy, r: 8 }),
      svg("circle", { class: "dt-q-ring", cx: sx, cy: sy, r: 8, style: `stroke: ${stroke}` }),
      svg("circle", { class: "dt-q-dot", cx: sx, cy: sy, r: 1.5, style: `fill: ${stroke}` }),
    );
    if (text) {
      const t = svg("text", { x: sx + 12, y: sy + 4, style: `fill: ${stroke}` });
      t.textContent = text;
      g.append(t);
    }
    return g;
  }

  where(image) {
    const slice = `slice ${Math.round(image[0]) + 1}`;
    if (!this.model.get("geometry_known")) {
      return `${slice} · row ${fixed(image[1], 1)}, column ${fixed(image[2], 1)}`;
    }
    const p = this.scene.toPatient(image);
    return `${slice} · (${p.map((v) => fixed(v, 1)).join(", ")}) mm`;
  }

  showList() {
    const list = this.listEl;
    while (list.firstChild) list.removeChild(list.firstChild);
    const single = this.maxPoints() === 1;
    this.marks.forEach((m, i) => {
      const item = el_("li", "dt-q-item");
      item.dataset.index = String(i);
      const name = single ? "Your marker" : `Marker ${i + 1}`;
      const show = button(`${name} · ${this.where(m.image)}`, `Select ${name.toLowerCase()} and show its slice`,
        () => {
          this.select(i);
          this.root.focus({ preventScroll: true });
        });
      show.classList.add("dt-q-show");
      show.setAttribute("aria-pressed", String(i === this.selected));
      const remove = button("Remove", `Remove ${name.toLowerCase()}`, () => {
        this.remove(i);
        this.root.focus({ preventScroll: true }); // the list is redrawn: keep the keys in the widget
      });
      remove.classList.add("dt-q-remove");
      remove.dataset.action = "remove";
      item.append(show, remove);
      list.append(item);
    });
  }

  showChips() {
    for (const [name, { chip, remove, row }] of this.chipButtons) {
      const n = this.count(name);
      const full = !this.canPlace(name);
      row.classList.toggle("dt-q-placed", n > 0);
      chip.classList.toggle("dt-q-full", full);
      chip.setAttribute("aria-pressed", String(this.armed === name));
      chip.title = full
        ? `“${name}” is placed: click to select its marker`
        : `Drag “${name}” onto the image (or click it, then click the image)`;
      chip.setAttribute("aria-label", chip.title);
      remove.hidden = n === 0;
      chip.querySelector(".dt-q-chip-count").textContent =
        n > 0 && this.model.get("max_per_label") !== 1 ? `×${n}` : "";
      row.dataset.count = String(n);
    }
  }

  showStatus() {
    const n = this.marks.length;
    if (this.kind === "labels") {
      const names = this.model.get("choices").map((c) => c.name);
      const placed = names.filter((name) => this.count(name) > 0).length;
      this.countEl.textContent = `${placed} of ${names.length} label${names.length === 1 ? "" : "s"} placed.`;
    } else {
      const max = this.maxPoints();
      this.countEl.textContent = max === 1
        ? n ? "Marker placed." : "No marker yet: click where the finding is."
        : `${n} of ${max} markers placed.`;
    }
    this.hintEl.textContent = this.hint ? ` ${this.hint}` : "";
    const state = this.model.get("save_state") || {};
    let saved = state.error || state.message || "";
    let error = !!state.error;
    if (this.pendingSince) {
      const waited = performance.now() - this.pendingSince;
      saved = waited > Q_SAVE_WAIT_MS
        ? "Not saved yet: the kernel does not answer (is it running?)."
        : "Saving…";
      error = waited > Q_SAVE_WAIT_MS;
    }
    this.savedEl.textContent = saved;
    this.savedEl.classList.toggle("dt-q-error", error);
    this.root.dataset.marks = String(n);
    this.root.dataset.saves = String(state.n || 0);
  }

  savedFromModel() {
    this.pendingSince = 0;
    this.showStatus();
  }

  showPrompt() {
    this.promptEl.textContent = this.model.get("prompt");
    this.promptEl.hidden = !this.model.get("prompt");
  }

  showNotice() {
    this.noticeEl.textContent = this.model.get("notice");
    this.noticeEl.hidden = !this.model.get("notice");
  }
}

async function render({ model, el }) {
  await stateComplete(model);
  const kind = model.get("question") === "labels" ? "labels" : "hotspot";
  el.classList.add("dt-viewer", "dt-question", `dt-q-${kind}`);
  el.tabIndex = 0;
  // Lumino (JupyterLab) leaves keys to us inside the widget: Enter places, not edits the cell.
  el.dataset.lmSuppressShortcuts = "true";

  const scene = new Scene(model);
  const answering = new Answering(model, scene, el);
  const controls = standardControls(scene, el, {
    toolNames: Q_TOOL_NAMES,
    onKeyFirst: (event) => answering.key(event),
    onDelete: () => answering.deleteMarker(),
  });
  const viewport = new Viewport(scene, {
    cursorLine: controls.cursorLine,
    tools: { [answering.toolName]: answering.tool() },
    onStatus: (vp) => controls.update(vp),
    onAnnotations: (vp) => answering.drawMarkers(vp),
  });
  answering.viewport = viewport;
  // The answer (chips or the list of markers, and whether it is saved) heads the tool column.
  if (kind === "hotspot") {
    answering.side.append(el_("div", "dt-q-side-title", "Your answer"), answering.listEl);
  }
  answering.side.append(answering.statusEl);
  const layout = widgetLayout(el, {
    header: [answering.promptEl, answering.noticeEl],
    main: [viewport.root, controls.slider, controls.readout, controls.cursorLine],
    side: [answering.side, controls.toolbar],
  });
  layout.body.classList.add("dt-q-body");
  viewport.toolChanged();
  viewport.draw();
  answering.refresh();

  return () => {
    controls.destroy();
    viewport.destroy();
    scene.destroy();
  };
}

export default { render };
