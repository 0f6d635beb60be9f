/**
 * The status page served at `/`. A placeholder: one HTML document that fetches `status` with the
 * key typed into it and lists the credentials.
 * @module
 */
import { createHash } from "node:crypto";

/** The status page: one HTML document with inline CSS and JS, and the Content-Security-Policy that lets exactly them run. */
export interface StatusPage {
  readonly html: string;
  readonly contentSecurityPolicy: string;
}

const SCRIPT = `const out=document.getElementById("out");const key=document.getElementById("key");
async function tick(){if(!key.value)return;try{const r=await fetch("status",{headers:{authorization:"Bearer "+key.value}});
out.textContent=r.ok?JSON.stringify(await r.json(),null,2):"HTTP "+r.status;}catch(e){out.textContent=String(e);}}
setInterval(tick,2000);key.addEventListener("change",tick);`;

const STYLE = "body{font:14px system-ui,sans-serif;margin:1rem}pre{white-space:pre-wrap}";

/** The page and its policy: only its own inline style and script run, and it talks only to itself. */
export function statusPage(): StatusPage {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>oauthmanager gateway</title><style>${STYLE}</style></head><body><h1>oauthmanager gateway</h1><label>Key <input id="key" type="password" autocomplete="off"></label><pre id="out"></pre><script>${SCRIPT}</script></body></html>`;
  return {
    html,
    contentSecurityPolicy: `default-src 'none'; connect-src 'self'; style-src '${sha256(STYLE)}'; script-src '${sha256(SCRIPT)}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  };
}

function sha256(text: string): string {
  return `sha256-${createHash("sha256").update(text, "utf8").digest("base64")}`;
}
