// The class's scores on the presenter's widget (docs/live.md, "Scores and the poll"): the
// service's table, each participant's Dice, surface Dice and HD95 against the reference
// or the consensus, the poll's clicks measured, and its picture (scores.png). The kernel
// asks for them (widgets/live.py LiveWidget.scores) and hands them to this view only; an
// instructor's, never a learner's (the service refuses them the scores).

import { el, button, setText } from "../core/dom.js";

/** One row of the service's table. @typedef {{username: string, name: string, structure: number,
 *   structure_name: string, against: string, drew: boolean, dice: number | null,
 *   surface_dice: number | null, hd95_mm: number | null, volume_mm3: number | null,
 *   tolerance_mm?: number, sensitivity?: number | null, specificity?: number | null}} ScoreRow */
/** One click of the poll, measured. @typedef {{username: string, name: string,
 *   distance_mm: number | null, hit: boolean | null}} PollRow */
/** What GET scores answers. @typedef {{reference: string | null, rows: ScoreRow[],
 *   poll: {question: string, judged_by: string, radius_mm: number | null, clicks: PollRow[]},
 *   skipped?: unknown[]}} ClassScores */

/**
 * A number as the table shows it ("—" for none).
 * @param {number | null | undefined} value
 * @param {number} digits
 */
export function shown(value, digits) {
  return value === null || value === undefined || !Number.isFinite(value) ? "—" : value.toFixed(digits);
}

/**
 * @typedef {object} ScoresBoard
 * @property {HTMLElement} element under the picture
 * @property {(scores: ClassScores, picture: Blob | null, names?: Map<number, string>) => void} show
 *   `names`: the widget's names of its structures, for those the service knows no name of
 * @property {() => void} clear
 */

/**
 * @param {{onRefresh: () => void}} hooks
 * @returns {ScoresBoard}
 */
export function scoresBoard(hooks) {
  const element = el("section", "dt-live-scores");
  element.hidden = true;
  element.setAttribute("aria-label", "The class's scores");
  const title = el("div", "dt-live-scores-title");
  const refresh = button("Refresh", "Score the layers as they are now", () => hooks.onRefresh());
  refresh.dataset.action = "scores-refresh";
  const close = button("Close", "Hide the scores", () => clear());
  close.dataset.action = "scores-close";
  const head = el("div", "dt-live-row");
  head.append(title, refresh, close);
  const table = el("table", "dt-live-scores-table");
  const tableBox = el("div", "dt-live-scores-box");
  tableBox.append(table);
  const poll = el("div", "dt-live-scores-poll");
  const picture = el("img", "dt-live-scores-picture");
  picture.alt = "Each participant's outline against the reference or the consensus, with their Dice";
  const notes = el("div", "dt-live-scores-notes");
  element.append(head, tableBox, poll, notes, picture);
  /** @type {string} */
  let url = "";

  /**
   * @param {ClassScores} scores
   * @param {Blob | null} png
   * @param {Map<number, string>} [names]
   */
  function show(scores, png, names = new Map()) {
    const rows = Array.isArray(scores.rows) ? scores.rows : [];
    const against = scores.reference ? `the reference (${scores.reference})` : "the class's consensus";
    setText(title, `Scores against ${against}`);
    const staple = rows.some((r) => r.sensitivity !== undefined);
    const several = new Set(rows.map((r) => r.structure)).size > 1;
    const tolerance = rows.find((r) => r.tolerance_mm)?.tolerance_mm ?? 2;
    /** Each column's heading and its tooltip. @type {string[][]} */
    const heads = [["Participant", ""]];
    if (several) heads.push(["Structure", ""]);
    heads.push(
      ["Against", "The reference outline, or the class's STAPLE consensus when the reference lacks the structure"],
      ["Dice", "Overlap: 1 is the same outline"],
      [`Surface Dice ${tolerance} mm`, `Share of both outlines' surfaces within ${tolerance} mm of the other`],
      ["HD95 mm", "95th percentile of the distances between the outlines' surfaces"],
      ["Volume mL", "Volume drawn"]);
    if (staple) {
      heads.push(["Sens.", "STAPLE's estimate of the participant's sensitivity"],
        ["Spec.", "STAPLE's estimate of the participant's specificity"]);
    }
    const headRow = el("tr");
    const numbers = heads.findIndex(([h]) => h === "Dice"); // this column and the next: numbers
    headRow.append(...heads.map(([h, tip], i) => {
      const th = el("th", i >= numbers ? "dt-live-number" : "", h);
      if (tip) th.title = tip;
      return th;
    }));
    const body = el("tbody");
    for (const r of [...rows].sort((a, b) => a.name.localeCompare(b.name) || a.structure - b.structure)) {
      const tr = el("tr");
      tr.dataset.person = r.username;
      tr.dataset.structure = String(r.structure);
      tr.dataset.drew = r.drew ? "1" : "0";
      /**
       * @param {string} metric
       * @param {number | null | undefined} value
       * @param {number} digits
       */
      const metricCell = (metric, value, digits) => {
        const td = el("td", "dt-live-number", shown(value, digits));
        td.dataset.metric = metric;
        td.dataset.value = value === null || value === undefined ? "" : String(value);
        return td;
      };
      const structure = r.against === "consensus" && names.get(r.structure) || r.structure_name;
      tr.append(el("td", "", r.name + (r.drew ? "" : " (did not draw)")),
        ...(several ? [el("td", "", structure)] : []), el("td", "", r.against), metricCell("dice", r.dice, 3), metricCell("surface_dice", r.surface_dice, 3),
        metricCell("hd95_mm", r.hd95_mm, 1),
        metricCell("volume_ml", r.volume_mm3 === null ? null : r.volume_mm3 / 1000, 2));
      if (staple) tr.append(metricCell("sensitivity", r.sensitivity, 3), metricCell("specificity", r.specificity, 3));
      body.append(tr);
    }
    const thead = el("thead");
    thead.append(headRow);
    table.replaceChildren(thead, body);
    table.hidden = !rows.length;
    drawPoll(scores.poll);
    const skipped = Array.isArray(scores.skipped) ? scores.skipped.length : 0;
    setText(notes, rows.length ? (skipped ? `${skipped} edit(s) did not fit the series and were skipped.` : "")
      : "Nobody has drawn yet.");
    if (url) URL.revokeObjectURL(url);
    url = png ? URL.createObjectURL(png) : "";
    picture.hidden = !png;
    if (url) picture.src = url;
    else picture.removeAttribute("src");
    element.hidden = false;
  }

  /** @param {ClassScores["poll"] | undefined} results */
  function drawPoll(results) {
    const clicks = results && Array.isArray(results.clicks) ? results.clicks : [];
    if (!results || !clicks.length) {
      poll.replaceChildren();
      return;
    }
    const judged = results.judged_by === "answer" ? "the marked answer"
      : results.judged_by === "reference" ? "the reference's outline" : "";
    const caption = el("div", "", `Poll: ${results.question || "(no question)"}` +
      (judged ? ` — judged against ${judged}, a hit within ${shown(results.radius_mm, 0)} mm` : " — no answer marked"));
    const list = el("table", "dt-live-scores-table");
    const head = el("tr");
    head.append(el("th", "", "Participant"), el("th", "dt-live-number", "Distance mm"), el("th", "", "Hit"));
    const body = el("tbody");
    for (const c of clicks) {
      const tr = el("tr");
      tr.dataset.person = c.username;
      const distance = el("td", "dt-live-number", shown(c.distance_mm, 1));
      distance.dataset.metric = "distance_mm";
      distance.dataset.value = c.distance_mm === null ? "" : String(c.distance_mm);
      const hit = el("td", "", c.hit === null ? "—" : c.hit ? "yes" : "no");
      hit.dataset.metric = "hit";
      tr.append(el("td", "", c.name), distance, hit);
      body.append(tr);
    }
    const thead = el("thead");
    thead.append(head);
    list.replaceChildren(thead, body);
    poll.replaceChildren(caption, list);
  }

  function clear() {
    element.hidden = true;
    table.replaceChildren();
    poll.replaceChildren();
    setText(notes, "");
    if (url) URL.revokeObjectURL(url);
    url = "";
    picture.removeAttribute("src");
  }

  return { element, show, clear };
}
