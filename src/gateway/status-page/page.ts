/**
 * The gateway's status page: one self-contained HTML document (inline CSS and JS, no request
 * but `status`), and the Content-Security-Policy that lets exactly that CSS and JS run.
 * @module
 */
import { createHash } from "node:crypto";
import { statusPageScript } from "./script.js";
import { STATUS_PAGE_CSS } from "./styles.js";

/** The status page: one HTML document with inline CSS and JS, and the Content-Security-Policy that lets exactly them run. */
export interface StatusPage {
  readonly html: string;
  readonly contentSecurityPolicy: string;
}

let page: StatusPage | undefined;

/**
 * The status page served at `/`. It asks for a client key (or reads one from a `#key=…` link),
 * polls the relative URL `status` every 2 s with it, and shows per provider and credential the
 * state, backoff, token expiry, requests, success rate and p95 latency. Built once, then shared.
 *
 * Serve `html` as `text/html; charset=utf-8` with `contentSecurityPolicy` as the
 * `Content-Security-Policy` header: it allows the page's own inline script and style by their
 * sha256 hashes, requests to its own origin, and nothing else.
 *
 * @example
 * const { html, contentSecurityPolicy } = statusPage();
 * res.writeHead(200, {
 *   "content-type": "text/html; charset=utf-8",
 *   "content-security-policy": contentSecurityPolicy,
 * });
 * res.end(html);
 */
export function statusPage(): StatusPage {
  page ??= buildPage();
  return page;
}

function buildPage(): StatusPage {
  const script = inline("script", statusPageScript());
  const style = inline("style", STATUS_PAGE_CSS);
  const contentSecurityPolicy = [
    "default-src 'none'",
    `script-src '${sha256(script)}'`,
    `style-src '${sha256(style)}'`,
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  return Object.freeze({ html: document(style, script), contentSecurityPolicy });
}

/** Refuses a text that would end its element early or open a comment inside it. */
function inline(tag: "script" | "style", text: string): string {
  if (/<\/(script|style)|<!--/i.test(text)) {
    throw new Error(`the status page's inline ${tag} must not contain "</${tag}" or "<!--"`);
  }
  return text;
}

function sha256(text: string): string {
  return `sha256-${createHash("sha256").update(text, "utf8").digest("base64")}`;
}

function document(style: string, script: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<title>oauthmanager status</title>
<style>${style}</style>
</head>
<body>
<header>
  <div>
    <h1>oauthmanager</h1>
    <p class="connection"><span id="connection-state" role="status" data-state="connecting">Loading…</span><span id="updated" hidden>Last update <time id="updated-at"></time> (<span id="updated-ago"></span>)</span></p>
  </div>
  <button id="change-key" type="button" hidden>Change key</button>
</header>
<main>
  <form id="key-form" class="key-form" hidden>
    <h2>Client key</h2>
    <p>Enter one of the gateway's client keys. It stays in this browser tab and goes only to this gateway, in the <code>Authorization</code> header. A link can carry it as <code>#key=…</code>: the page takes it out of the address bar.</p>
    <p id="key-error" class="error" role="alert" hidden></p>
    <label for="key">Client key</label>
    <div class="key-row">
      <input id="key" name="key" type="password" autocomplete="off" autocapitalize="off" spellcheck="false" required>
      <button type="submit">Show status</button>
    </div>
  </form>
  <p id="empty" hidden>No providers are configured.</p>
  <div id="providers"></div>
  <noscript><p>This page needs JavaScript. The same data is the JSON at <code>status</code>, with a client key.</p></noscript>
</main>
<script>${script}</script>
</body>
</html>
`;
}
