/**
 * The status page's browser code, as the text the page embeds after the functions of
 * `format.ts` (which it calls by name). It asks for the client key, polls `status` every 2 s with
 * it, and keeps the tables up to date in place, ticking the countdowns every second on the
 * server's clock.
 *
 * Every value from the server goes into the page as text (`textContent`, attribute values set
 * one by one), never as markup: a credential id is whatever the config says.
 * @module
 */

/** Milliseconds between two polls of `status`. */
const POLL_INTERVAL_MS = 2000;

/** The browser code; runs inside the page's strict-mode function, after the format functions. */
export const CLIENT_SOURCE = `
const POLL_MS = ${POLL_INTERVAL_MS};
const TIMEOUT_MS = 10000;
const KEY_ITEM = "oauthmanager-status-key";
const COLUMNS = [
  ["state", "State"],
  ["backoff", "Backoff"],
  ["expires", "Token expires"],
  ["requests", "Requests"],
  ["success", "Success"],
  ["p95", "p95 latency"],
];
const NUMERIC = new Set(["requests", "success", "p95"]);

const connection = document.getElementById("connection-state");
const updated = document.getElementById("updated");
const updatedAt = document.getElementById("updated-at");
const updatedAgo = document.getElementById("updated-ago");
const form = document.getElementById("key-form");
const keyInput = document.getElementById("key");
const keyError = document.getElementById("key-error");
const changeKey = document.getElementById("change-key");
const root = document.getElementById("providers");
const empty = document.getElementById("empty");

let key = null;
// The last good answer of the server, the server's clock minus this browser's, and why the
// last poll failed ("" when it did not).
let snapshot = null;
let offset = 0;
let failure = "";
// A new key or a tab shown again starts a new chain of polls; an older chain stops at its next step.
let generation = 0;
let controller = null;
let timer = undefined;
const sections = new Map();

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function serverNow() {
  return Date.now() + offset;
}

function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

function setTone(element, tone) {
  if (element.dataset.tone !== tone) element.dataset.tone = tone;
}

function readStoredKey() {
  try {
    return sessionStorage.getItem(KEY_ITEM);
  } catch {
    return null;
  }
}

function storeKey(value) {
  try {
    if (value === null) sessionStorage.removeItem(KEY_ITEM);
    else sessionStorage.setItem(KEY_ITEM, value);
  } catch {
    // Storage turned off: the key lives as long as the page.
  }
}

// The fragment never reaches the server, but it stays in the address bar, the history and
// anything shared from there: take the key out at once.
function keyFromFragment() {
  const hash = location.hash.replace(/^#/, "");
  if (hash === "") return undefined;
  const parts = splitKeyFragment(hash);
  if (parts.rest !== hash) {
    const kept = parts.rest === "" ? "" : "#" + parts.rest;
    history.replaceState(history.state, "", location.pathname + location.search + kept);
  }
  return parts.key;
}

function setConnection(state, label) {
  if (connection.dataset.state !== state) connection.dataset.state = state;
  setText(connection, label);
}

function showConnection() {
  if (failure !== "") {
    setConnection("lost", "Connection lost: " + failure + ". Retrying every " + POLL_MS / 1000 + " s.");
  } else if (snapshot !== null) {
    setConnection("live", "Live");
  }
  updated.hidden = snapshot === null;
  if (snapshot !== null) {
    const at = parseTime(snapshot.generated_at);
    if (at === undefined) updatedAt.removeAttribute("datetime");
    else if (updatedAt.dateTime !== snapshot.generated_at) updatedAt.dateTime = snapshot.generated_at;
    setText(updatedAt, at === undefined ? "—" : new Date(at).toLocaleTimeString());
    setText(updatedAgo, agoText(snapshot.generated_at, serverNow()));
  }
  if (failure === "") delete root.dataset.stale;
  else root.dataset.stale = "";
}

function stopPolling() {
  generation++;
  clearTimeout(timer);
  if (controller !== null) controller.abort();
  controller = null;
}

function showKeyForm(message) {
  stopPolling();
  key = null;
  storeKey(null);
  snapshot = null;
  failure = "";
  sections.clear();
  root.replaceChildren();
  empty.hidden = true;
  setText(keyError, message);
  keyError.hidden = message === "";
  form.hidden = false;
  changeKey.hidden = true;
  setConnection("key", message === "" ? "Waiting for a client key" : "Key refused");
  showConnection();
  keyInput.focus();
}

function start(newKey) {
  key = newKey;
  storeKey(newKey);
  form.hidden = true;
  keyError.hidden = true;
  changeKey.hidden = false;
  setConnection("connecting", "Connecting…");
  restart();
}

function restart() {
  stopPolling();
  if (key !== null && !document.hidden) poll(generation);
}

function fail(gen, reason) {
  if (gen !== generation) return;
  failure = reason;
  showConnection();
}

async function poll(gen) {
  const ctl = new AbortController();
  controller = ctl;
  const timeout = setTimeout(() => ctl.abort(), TIMEOUT_MS);
  try {
    // Relative: behind a path prefix, the page at /prefix/ asks /prefix/status.
    const response = await fetch("status", {
      headers: { Authorization: "Bearer " + key, Accept: "application/json" },
      cache: "no-store",
      signal: ctl.signal,
    });
    if (gen !== generation) return;
    if (response.status === 401) {
      showKeyForm("The gateway refused this key. Enter one of its client keys.");
      return;
    }
    if (!response.ok) return fail(gen, "the gateway answered HTTP " + response.status);
    let body;
    try {
      body = await response.json();
    } catch {
      return fail(gen, "the answer was not JSON");
    }
    if (gen !== generation) return;
    if (!isObject(body) || !isObject(body.providers)) return fail(gen, "unexpected answer");
    offset = clockOffset(body.generated_at, Date.now());
    snapshot = body;
    failure = "";
    render();
  } catch {
    fail(gen, ctl.signal.aborted ? "no answer within " + TIMEOUT_MS / 1000 + " s" : "the gateway cannot be reached");
  } finally {
    clearTimeout(timeout);
    if (gen === generation && key !== null && !document.hidden) {
      timer = setTimeout(() => poll(gen), POLL_MS);
    }
  }
}

function placeAt(parent, element, index) {
  const current = parent.children[index];
  if (current !== element) parent.insertBefore(element, current === undefined ? null : current);
}

function createSection(name) {
  const element = document.createElement("section");
  element.setAttribute("aria-label", name);
  const heading = document.createElement("h2");
  heading.textContent = name;
  const summary = document.createElement("p");
  summary.className = "summary";
  const table = document.createElement("table");
  // Explicit roles keep the table a table for screen readers when narrow screens restyle it as cards.
  table.setAttribute("role", "table");
  const caption = document.createElement("caption");
  caption.className = "visually-hidden";
  caption.textContent = "Credentials of " + name;
  const head = document.createElement("thead");
  head.setAttribute("role", "rowgroup");
  const headRow = document.createElement("tr");
  headRow.setAttribute("role", "row");
  const labels = [["credential", "Credential"]].concat(COLUMNS);
  for (const [column, label] of labels) {
    const th = document.createElement("th");
    th.scope = "col";
    th.setAttribute("role", "columnheader");
    th.textContent = label;
    if (NUMERIC.has(column)) th.className = "num";
    headRow.append(th);
  }
  head.append(headRow);
  const body = document.createElement("tbody");
  body.setAttribute("role", "rowgroup");
  table.append(caption, head, body);
  element.append(heading, summary, table);
  return { element, summary, body, rows: new Map() };
}

function createRow(id) {
  const element = document.createElement("tr");
  element.setAttribute("role", "row");
  const name = document.createElement("th");
  name.scope = "row";
  name.setAttribute("role", "rowheader");
  name.className = "credential";
  name.textContent = id;
  element.append(name);
  const cells = {};
  for (const [column, label] of COLUMNS) {
    const td = document.createElement("td");
    td.setAttribute("role", "cell");
    td.dataset.label = label;
    td.dataset.column = column;
    if (NUMERIC.has(column)) td.className = "num";
    element.append(td);
    cells[column] = td;
  }
  const value = document.createElement("span");
  value.className = "state";
  const badge = document.createElement("span");
  badge.className = "badge";
  const note = document.createElement("span");
  note.className = "note";
  value.append(badge, note);
  cells.state.append(value);
  return { element, cells, badge, note, data: {} };
}

function updateRow(row) {
  const data = row.data;
  const state = shownState(data);
  const tone = stateTone(state);
  setText(row.badge, stateLabel(state));
  setTone(row.badge, tone);
  setTone(row.element, tone);
  setText(row.note, stateNote(data));
  setText(row.cells.requests, countText(data.request_count));
  setText(row.cells.success, rateText(data.success_rate, data.request_count));
  setText(row.cells.p95, latencyText(data.latency_p95, data.request_count));
}

function tickRow(row, now) {
  setText(row.cells.backoff, backoffText(row.data.backoff_until, now));
  setText(row.cells.expires, expiryText(row.data.expires_at, now));
  setTone(row.cells.expires, expiryTone(row.data.expires_at, now));
}

function updateSection(section, summary) {
  setText(section.summary, summaryText(summary));
  const credentials = isObject(summary.credentials) ? summary.credentials : {};
  const ids = Object.keys(credentials);
  ids.forEach((id, index) => {
    let row = section.rows.get(id);
    if (row === undefined) {
      row = createRow(id);
      section.rows.set(id, row);
    }
    placeAt(section.body, row.element, index);
    row.data = isObject(credentials[id]) ? credentials[id] : {};
    updateRow(row);
  });
  for (const [id, row] of section.rows) {
    if (!Object.hasOwn(credentials, id)) {
      row.element.remove();
      section.rows.delete(id);
    }
  }
}

function render() {
  const providers = snapshot.providers;
  const names = Object.keys(providers);
  names.forEach((name, index) => {
    let section = sections.get(name);
    if (section === undefined) {
      section = createSection(name);
      sections.set(name, section);
    }
    placeAt(root, section.element, index);
    updateSection(section, isObject(providers[name]) ? providers[name] : {});
  });
  for (const [name, section] of sections) {
    if (!Object.hasOwn(providers, name)) {
      section.element.remove();
      sections.delete(name);
    }
  }
  empty.hidden = names.length > 0;
  tick();
}

function tick() {
  const now = serverNow();
  for (const section of sections.values()) {
    for (const row of section.rows.values()) tickRow(row, now);
  }
  showConnection();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const value = keyInput.value.trim();
  if (value === "") return;
  keyInput.value = "";
  start(value);
});
changeKey.addEventListener("click", () => showKeyForm(""));
// A hidden tab stops polling; shown again, it asks at once.
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) restart();
});
// A key pasted into the address bar of the open page.
window.addEventListener("hashchange", () => {
  const fromLink = keyFromFragment();
  if (fromLink !== undefined) start(fromLink);
});
setInterval(tick, 1000);

const initial = keyFromFragment();
if (initial !== undefined) start(initial);
else {
  const stored = readStoredKey();
  if (stored !== null && stored !== "") start(stored);
  else showKeyForm("");
}
`;
