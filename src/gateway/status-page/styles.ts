/**
 * The status page's stylesheet: light and dark by the system's preference, a table on wide
 * screens and one card per credential on narrow ones, nothing wider than a 375 px phone.
 * @module
 */

/** The CSS the page inlines (and the Content-Security-Policy allows by its hash). */
export const STATUS_PAGE_CSS = `
:root {
  color-scheme: light dark;
  --bg: #f5f6f8; --fg: #1b1f24; --muted: #58606b; --card: #fff; --line: #d8dde3;
  --accent: #0a5fc7;
  --ok: #17692e; --ok-bg: #e3f6e7; --warn: #8a5a00; --warn-bg: #fff4cc;
  --bad: #b3121f; --bad-bg: #ffe8e6;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0e1116; --fg: #e6e9ee; --muted: #9aa3ad; --card: #171b22; --line: #2e353f;
    --accent: #5b9dff;
    --ok: #4cc66a; --ok-bg: #163322; --warn: #e0a52b; --warn-bg: #33280f;
    --bad: #ff6b63; --bad-bg: #3a1816;
  }
}
*, *::before, *::after { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
header, main { max-width: 76rem; margin: 0 auto; padding: 0 1rem; }
header {
  display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between;
  gap: .5rem 1rem; padding-top: 1rem; padding-bottom: .75rem;
}
h1 { font-size: 1.3rem; margin: 0; }
h2 { font-size: 1.1rem; margin: 0; overflow-wrap: anywhere; }
.connection { margin: .2rem 0 0; font-size: .875rem; color: var(--muted); }
#connection-state { font-weight: 600; }
#connection-state::before {
  content: ""; display: inline-block; width: .6em; height: .6em; border-radius: 50%;
  margin-right: .4em; background: var(--muted); vertical-align: .05em;
}
#connection-state[data-state=live] { color: var(--ok); }
#connection-state[data-state=live]::before { background: var(--ok); }
#connection-state[data-state=lost], #connection-state[data-state=key] { color: var(--bad); }
#connection-state[data-state=lost]::before { background: var(--bad); }
#updated::before { content: " · "; }
section, .key-form {
  background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 1rem; margin-bottom: 1rem;
}
#providers[data-stale] section { opacity: .75; }
.summary { margin: .2rem 0 .6rem; color: var(--muted); }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: .5rem .6rem; text-align: left; vertical-align: top; border-top: 1px solid var(--line); }
thead th {
  border-top: 0; font-size: .75rem; font-weight: 600; color: var(--muted);
  text-transform: uppercase; letter-spacing: .04em; white-space: nowrap;
}
.num { text-align: right; }
.credential {
  font: 600 .9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere;
}
.state { display: inline-flex; flex-direction: column; align-items: flex-start; gap: .15rem; }
.badge {
  padding: 0 .55rem; border: 1px solid currentColor; border-radius: 999px;
  font-size: .8rem; font-weight: 600; white-space: nowrap; color: var(--muted);
}
.badge[data-tone=ok] { color: var(--ok); background: var(--ok-bg); }
.badge[data-tone=warn] { color: var(--warn); background: var(--warn-bg); }
.badge[data-tone=bad] { color: var(--bad); background: var(--bad-bg); }
.note { font-size: .8rem; color: var(--muted); }
.note:empty { display: none; }
td[data-tone=warn] { color: var(--warn); font-weight: 600; }
td[data-tone=bad] { color: var(--bad); font-weight: 600; }
.key-form { max-width: 34rem; }
.key-form p { margin: .4rem 0 .8rem; }
.key-row { display: flex; flex-wrap: wrap; gap: .5rem; margin-top: .3rem; }
label { font-weight: 600; }
input, button { font: inherit; border-radius: 6px; padding: .45rem .8rem; }
input {
  flex: 1 1 12rem; min-width: 0; border: 1px solid var(--line); background: var(--bg); color: var(--fg);
}
button { border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
#change-key { background: transparent; color: var(--accent); }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
.error { color: var(--bad); font-weight: 600; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; }
.visually-hidden {
  position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; border: 0;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap;
}
@media (max-width: 46rem) {
  section { padding: .75rem; }
  table, tbody, tr, th, td { display: block; }
  thead {
    position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  }
  tbody tr {
    margin-top: .6rem; padding: .3rem 0; border: 1px solid var(--line);
    border-left: 4px solid var(--muted); border-radius: 8px;
  }
  tbody tr[data-tone=ok] { border-left-color: var(--ok); }
  tbody tr[data-tone=warn] { border-left-color: var(--warn); }
  tbody tr[data-tone=bad] { border-left-color: var(--bad); }
  tbody th, tbody td { border: 0; padding: .25rem .75rem; }
  td { display: flex; justify-content: space-between; align-items: baseline; gap: 1rem; text-align: right; }
  td::before {
    content: attr(data-label); flex: none; color: var(--muted); font-size: .85rem; font-weight: 400;
    text-align: left;
  }
  .state { align-items: flex-end; }
}
`;
