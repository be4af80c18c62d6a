// The "Live" group of a Viewer's or a Delineator's tool column: start a session or join
// one by its code; once in, the session's title and join code, the connection, who is
// present (colour, name, online, who leads), follow or look around alone, and the
// presenter's buttons (hand the lead on, show the layers to the class, ask a poll, ask
// for the class's agreement and scores, show the map and the consensus to the class,
// end); the agreement's legend and what this screen shows of it. Every button calls the
// session (session.js); this module only draws its state. The scores go under the
// picture (scores.js).

import { el, button, setText } from "../core/dom.js";
import { controlGroup } from "../core/controls.js";
import { agreementColour, hexOf } from "./agreement.js";
import { scoresBoard } from "./scores.js";

/** @import { LiveSession } from "./session.js" */

/** What the connection's state reads as. @type {Record<string, string>} */
const STATE_TEXT = {
  loading: "Loading…",
  connecting: "Connecting…",
  synced: "Live",
  offline: "Connection lost: reconnecting…",
  refused: "The service refused a change: joining again…",
  ended: "The session has ended",
  signin: "Not signed in to the live service: log in to the hub again",
};

/**
 * @param {string} label
 * @param {string} control data-control, for tests and styles
 * @param {string} placeholder
 */
function field(label, control, placeholder) {
  const input = el("input");
  input.type = "text";
  input.dataset.control = control;
  input.placeholder = placeholder;
  input.setAttribute("aria-label", label);
  return input;
}

/**
 * @typedef {object} LivePanel
 * @property {HTMLElement} group for the tool column
 * @property {HTMLElement} question over the picture: the poll's question
 * @property {import("./scores.js").ScoresBoard} board under the picture: the class's scores
 * @property {() => void} update draw the session's state
 */

/**
 * @param {LiveSession} session
 * @returns {LivePanel}
 */
export function livePanel(session) {
  const group = controlGroup("Live", [], "dt-live");

  // ---- not in a session: start one, or join one by its code
  const title = field("Session title", "live-title", "Title, e.g. Tumour board");
  const go = button("Go live", "Start a live session on this image: learners join with its code", () => {
    session.request("go", { title: title.value.trim() || "Live session" });
  });
  go.dataset.action = "go-live";
  const code = field("Join code", "live-code", "Code");
  code.maxLength = 12;
  const join = button("Join", "Join the live session whose code you were given", () => {
    if (code.value.trim()) session.request("join", { code: code.value.trim() });
  });
  join.dataset.action = "join";
  code.addEventListener("keydown", (event) => {
    if (event.key === "Enter") join.click();
  });
  const start = el("div", "dt-live-start");
  start.append(row(title, go), row(code, join));

  // ---- in a session
  const heading = el("div", "dt-live-title");
  const codeLine = el("div", "dt-live-row");
  const codeText = el("span", "dt-live-code");
  codeText.title = "The join code: paste it in the class's videoconference";
  const link = el("a", "dt-live-link", "page");
  link.target = "_blank";
  link.rel = "noopener";
  link.title = "The live sessions' page (it lists the codes): paste its address with the code";
  codeLine.append("Code ", codeText, " · ", link);
  const status = el("div", "dt-live-status");
  status.setAttribute("aria-live", "polite");
  const follow = button("Detach", "Look around alone; Re-attach follows the presenter again", () => {
    session.setAttached(!session.attached);
  });
  follow.dataset.action = "follow";
  const present = el("ul", "dt-live-present");
  present.setAttribute("aria-label", "Who is present");
  const reveal = button("Show layers", "Show everyone's layers to the class, or hide them", () => {
    session.reveal("layers", !session.revealed("layers"));
  });
  reveal.dataset.action = "reveal-layers";
  const pollText = field("Poll question", "poll-question", "Click where the lesion is");
  const ask = button("Ask", "Ask the class to click on the image", () => {
    session.askPoll(pollText.value.trim() || "Click where the lesion is");
  });
  ask.dataset.action = "poll-ask";
  const close = button("Close poll", "Stop taking clicks", () => session.closePoll());
  close.dataset.action = "poll-close";
  const mark = button("Mark answer", "Your next click on the image is the poll's answer", () => {
    session.markingAnswer = !session.markingAnswer;
    update();
  });
  mark.dataset.action = "poll-mark";
  const showAnswer = button("Show answer", "Show the class the answer and their clicks", () => {
    session.reveal("answer", !session.revealed("answer"));
  });
  showAnswer.dataset.action = "poll-reveal";
  const pollCount = el("span", "dt-live-poll-count");
  const end = button("End session", "End the session for everyone; every layer is saved", () => {
    session.request("end", {});
  });
  end.dataset.action = "end";
  const leave = button("Leave", "Leave the session (it goes on for the others)", () => session.request("leave", {}));
  leave.dataset.action = "leave";
  const askAgreement = button("Agreement", "Ask for the class's agreement map and STAPLE consensus, " +
    "from the layers as they are now: you see them, the class once you show them", () => session.askAgreement());
  askAgreement.dataset.action = "agreement";
  const askScores = button("Scores", "Each participant's Dice, surface Dice and HD95, and the poll's " +
    "clicks: shown to you only", () => session.askScores());
  askScores.dataset.action = "scores";
  const presenterRows = el("div", "dt-live-presenter");
  presenterRows.append(row(reveal, end), row(pollText, ask), row(close, mark, showAnswer, pollCount),
    row(askAgreement, askScores));

  // ---- the class's agreement: what it is, its legend, what this screen and the class see
  const agreementBox = el("div", "dt-live-agreement-box");
  const agreementText = el("div", "dt-live-agreement-text");
  const structure = el("select", "dt-live-structure");
  structure.setAttribute("aria-label", "Structure whose agreement is shown");
  structure.addEventListener("change", () => session.showStructure(Number(structure.value)));
  const showMap = button("Map", "Show or hide the agreement map on your screen", () => session.toggle("agreement"));
  showMap.dataset.action = "show-agreement";
  const showConsensus = button("Consensus", "Show or hide the STAPLE consensus on your screen",
    () => session.toggle("consensus"));
  showConsensus.dataset.action = "show-consensus";
  const legend = el("div", "dt-live-legend");
  legend.setAttribute("role", "img");
  const ramp = el("div", "dt-live-ramp");
  const rampLow = el("span", "dt-live-ramp-end");
  const rampHigh = el("span", "dt-live-ramp-end");
  const outlineKey = el("span", "dt-live-outline-key", "consensus");
  legend.append(rampLow, ramp, rampHigh, outlineKey);
  const revealMap = button("Show map to class", "Show the agreement map to the class, or hide it",
    () => session.reveal("agreement", !session.revealed("agreement")));
  revealMap.dataset.action = "reveal-agreement";
  const revealConsensus = button("Show consensus to class", "Show the consensus to the class, or hide it",
    () => session.reveal("consensus", !session.revealed("consensus")));
  revealConsensus.dataset.action = "reveal-consensus";
  const revealRow = row(revealMap, revealConsensus);
  const viewRow = row(structure, showMap, showConsensus);
  agreementBox.append(agreementText, viewRow, legend, revealRow);

  const inside = el("div", "dt-live-inside");
  inside.append(heading, codeLine, status, row(follow, leave), present, presenterRows, agreementBox);
  const board = scoresBoard({ onRefresh: () => session.askScores() });

  const error = el("div", "dt-live-error");
  const question = el("div", "dt-live-question");
  group.items.append(start, inside, error);
  group.hidden = false;

  function update() {
    const info = session.info;
    const live = !!info.id;
    start.hidden = live;
    inside.hidden = !live;
    setText(error, session.error);
    if (!live) {
      setText(question, "");
      return;
    }
    setText(heading, info.title || "Live session");
    setText(codeText, info.code || "");
    const page = new URL(info.service || "/", location.href).href;
    if (link.href !== page) link.href = page;
    codeLine.hidden = !info.code;
    const state = session.state;
    status.dataset.state = state;
    const leadName = session.personName(session.lead);
    let text = STATE_TEXT[state] || state;
    if (state === "synced") text += session.lead === session.me ? " · you lead" : ` · ${leadName} leads`;
    const why = session.provider?.problem || (state === "refused" ? session.provider?.refusal : "");
    setText(status, why ? `${text} (${why})` : text);
    const leading = session.lead === session.me;
    follow.hidden = leading || state === "ended";
    setText(follow, session.attached ? "Detach" : "Re-attach");
    follow.setAttribute("aria-pressed", String(!session.attached));
    presenterRows.hidden = !session.instructor || state === "ended";
    setText(reveal, session.revealed("layers") ? "Hide layers" : "Show layers");
    reveal.setAttribute("aria-pressed", String(session.revealed("layers")));
    const poll = session.poll;
    close.disabled = !poll.open;
    mark.setAttribute("aria-pressed", String(session.markingAnswer));
    showAnswer.setAttribute("aria-pressed", String(session.revealed("answer")));
    setText(pollCount, poll.question ? `${session.pollClicks().length} click(s)` : "");
    const asking = poll.open && !session.instructor
      ? `${poll.question} — click on the image`
      : poll.open ? `Poll: ${poll.question}` : "";
    setText(question, asking);
    setText(askAgreement, session.waiting.consensus ? "Asking…" : "Agreement");
    askAgreement.disabled = session.waiting.consensus;
    setText(askScores, session.waiting.scores ? "Scoring…" : "Scores");
    askScores.disabled = session.waiting.scores;
    drawAgreementBox();
    drawPresent();
  }

  function drawAgreementBox() {
    const agreement = session.agreement;
    const shown = agreement.structure(session.structure);
    const nobody = session.instructor && !!agreement.made && !shown; // asked before anyone drew
    const visible = session.state !== "ended" && (nobody || (!!shown &&
      (session.instructor || session.revealed("agreement") || session.revealed("consensus"))));
    agreementBox.hidden = !visible;
    if (!visible) return;
    const when = agreement.made.length >= 16 ? ` at ${agreement.made.slice(11, 16)}` : "";
    viewRow.hidden = legend.hidden = revealRow.hidden = !shown;
    if (!shown) {
      setText(agreementText, `Agreement${when}: nobody had drawn yet`);
      agreementText.title = "";
      return;
    }
    const n = shown.raters.length;
    setText(agreementText, `Agreement: ${n} drew${when}`);
    agreementText.title = shown.raters.map((name) => session.personName(name)).join(", ");
    const labels = agreement.structures.map((s) => String(s.label));
    if ([...structure.options].map((o) => o.value).join() !== labels.join()) {
      const names = new Map((session.scene.model.get("label_info") || []).map((l) => [l.value, l.name]));
      structure.replaceChildren(...agreement.structures.map((s) => {
        const option = el("option", "", names.get(s.label) || `Structure ${s.label}`);
        option.value = String(s.label);
        return option;
      }));
    }
    structure.value = String(shown.label);
    structure.hidden = labels.length < 2;
    const mapSeen = session.instructor || session.revealed("agreement");
    const consensusSeen = session.instructor || session.revealed("consensus");
    showMap.hidden = !mapSeen;
    showConsensus.hidden = !consensusSeen;
    showMap.setAttribute("aria-pressed", String(session.showing.agreement));
    showConsensus.setAttribute("aria-pressed", String(session.showing.consensus));
    legend.hidden = !(mapSeen && session.showing.agreement) && !(consensusSeen && session.showing.consensus);
    ramp.hidden = rampLow.hidden = rampHigh.hidden = !(mapSeen && session.showing.agreement);
    outlineKey.hidden = !(consensusSeen && session.showing.consensus);
    if (ramp.dataset.raters !== String(n)) {
      ramp.dataset.raters = String(n);
      ramp.replaceChildren(...Array.from({ length: n }, (_, i) => {
        const rgb = agreementColour(i + 1, n);
        const swatch = el("span", "dt-live-ramp-step");
        swatch.style.background = hexOf(rgb);
        swatch.dataset.count = String(i + 1);
        swatch.dataset.rgb = rgb.join(",");
        swatch.title = `${i + 1} of ${n} drew here`;
        return swatch;
      }));
    }
    setText(rampLow, "1");
    setText(rampHigh, `${n} of ${n}`);
    legend.setAttribute("aria-label", `Agreement map: from 1 to ${n} of ${n} drew each voxel`);
    revealRow.hidden = !session.instructor;
    setText(revealMap, session.revealed("agreement") ? "Hide map from class" : "Show map to class");
    revealMap.setAttribute("aria-pressed", String(session.revealed("agreement")));
    setText(revealConsensus, session.revealed("consensus") ? "Hide consensus from class" : "Show consensus to class");
    revealConsensus.setAttribute("aria-pressed", String(session.revealed("consensus")));
  }

  function drawPresent() {
    const rows = session.people().map((person) => {
      const item = el("li", "dt-live-person");
      item.dataset.person = person.username;
      item.dataset.online = person.online ? "1" : "0";
      const swatch = el("span", "dt-swatch");
      swatch.style.background = person.colour;
      const name = el("span", "", person.name + (person.username === session.me ? " (you)" : ""));
      name.title = `${person.username}, ${person.role}${person.online ? "" : ", away"}`;
      item.append(swatch, name);
      if (person.username === session.lead) item.append(el("span", "dt-live-lead-mark", "leads"));
      if (session.instructor && session.state !== "ended") {
        if (person.username !== session.lead && person.online && person.username !== session.me) {
          const give = button("Lead", `Hand the lead to ${person.name}: they move everyone's view`, () => {
            session.request("lead", { to: person.username });
          });
          give.dataset.action = "give-lead";
          item.append(give);
        } else if (person.username === session.lead && person.username !== session.me) {
          const back = button("Take back", "Take the lead back", () => session.request("lead", { to: null }));
          back.dataset.action = "take-lead";
          item.append(back);
        }
      }
      return item;
    });
    present.replaceChildren(...rows);
  }

  update();
  return { group, question, board, update };
}

/** @param {...Node} items */
function row(...items) {
  const line = el("div", "dt-live-row");
  line.append(...items);
  return line;
}
