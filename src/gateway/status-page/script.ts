/**
 * The status page's one script: the format functions, as their compiled source, and the browser
 * code that calls them, wrapped in one strict-mode function so that nothing leaks into `window`.
 * @module
 */
import { CLIENT_SOURCE } from "./client.js";
import * as format from "./format.js";

/**
 * The source of every function `format.ts` exports, as the running JavaScript has it: the same
 * code the unit tests run is what the browser runs.
 */
export function formatSource(): string {
  return Object.values(format)
    .filter((value) => typeof value === "function")
    .map((fn) => fn.toString())
    .join("\n");
}

/** The text of the page's `<script>`. */
export function statusPageScript(): string {
  // tsx (esbuild's keepNames) may wrap a named inner function in `__name(fn, "fn")`: the page
  // defines it as the identity, so the source runs whichever loader compiled it.
  return `(() => {\n"use strict";\nconst __name = (target) => target;\n${formatSource()}\n${CLIENT_SOURCE}})();\n`;
}
