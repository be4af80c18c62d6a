// The "Live" group of a Viewer's or a Delineator's tool column: start a session or join
// one by its code; once in, the session's title and join code, the connection, who is
// present (colour, name, online, who leads), follow or look around alone, and the
// presenter's buttons (hand the lead on, show the layers to the class, ask a poll,
// end). Every button calls the session (session.js); this module only draws its state.

import { el, button, setText } from "../core/dom.js";
import { controlGroup } from "../core/controls.js";

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
  const presenterRows = el("div", "dt-live-presenter");
  presenterRows.append(row(reveal, end), row(pollText, ask), row(close, mark, showAnswer, pollCount));
  const inside = el("div", "dt-live-inside");
  inside.append(heading, codeLine, status, row(follow, leave), present, presenterRows);

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
    drawPresent();
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
  return { group, question, update };
}

/** @param {...Node} items */
function row(...items) {
  const line = el("div", "dt-live-row");
  line.append(...items);
  return line;
}
