import { createHash } from "node:crypto";
import vm from "node:vm";
import { describe, expect, it } from "vitest";
import * as format from "./format.js";
import { statusPage } from "./page.js";
import { formatSource } from "./script.js";

function inlineText(html: string, tag: "script" | "style"): string[] {
  return [...html.matchAll(new RegExp(`<${tag}[^>]*>([\\s\\S]*?)</${tag}>`, "g"))].map(
    (m) => m[1] ?? "",
  );
}

const hash = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

describe("statusPage", () => {
  const { html, contentSecurityPolicy: csp } = statusPage();

  it("is built once", () => {
    expect(statusPage()).toBe(statusPage());
    expect(Object.isFrozen(statusPage())).toBe(true);
  });

  it("has exactly one inline script and one inline style, each allowed by its hash", () => {
    const scripts = inlineText(html, "script");
    const styles = inlineText(html, "style");
    expect(scripts).toHaveLength(1);
    expect(styles).toHaveLength(1);
    const directives = Object.fromEntries(
      csp.split("; ").map((d) => [d.split(" ")[0], d.split(" ").slice(1).join(" ")]),
    );
    expect(directives["script-src"]).toBe(hash(scripts[0] ?? ""));
    expect(directives["style-src"]).toBe(hash(styles[0] ?? ""));
    expect(directives["default-src"]).toBe("'none'");
    expect(directives["connect-src"]).toBe("'self'");
    expect(directives["frame-ancestors"]).toBe("'none'");
  });

  it("allows nothing inline by name and nothing from elsewhere", () => {
    expect(csp).not.toMatch(/unsafe|https?:|\*/);
    expect(html).not.toMatch(/\s(src|href)=/i);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it("asks a relative status URL, so a path prefix in front of the gateway still works", () => {
    const script = inlineText(html, "script")[0] ?? "";
    expect(script).toContain('fetch("status"');
    expect(script).not.toContain('"/status"');
  });

  it("its script compiles, and its browser code sets values as text only", () => {
    const script = inlineText(html, "script")[0] ?? "";
    expect(() => new vm.Script(script)).not.toThrow();
    expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
  });

  it("embeds the format functions whole: alone in a bare context they give what the module gives", () => {
    const context = vm.createContext({});
    vm.runInContext(formatSource(), context);
    const now = Date.parse("2026-12-01T10:00:00Z");
    const credential = { failure_count: 2, refresh_fail_count: 1, marked_for_rotation: true };
    const summary = {
      total_credentials: 2,
      healthy_credentials: 1,
      credentials_in_backoff: 1,
      total_requests: 12_345,
      success_rate: 0.98765,
    };
    const calls: [string, unknown[]][] = [
      ["durationText", [3_723_000]],
      ["backoffText", ["2026-12-01T10:00:42.100Z", now]],
      ["expiryText", ["2026-12-01T09:00:00Z", now]],
      ["expiryTone", ["2026-12-01T10:04:00Z", now]],
      ["clockOffset", ["2026-12-01T10:00:00Z", now + 5000]],
      ["agoText", ["2026-12-01T09:59:30Z", now]],
      ["countText", [9_876_543]],
      ["rateText", [0.98765, 10]],
      ["latencyText", [1234, 3]],
      ["shownState", [{ state: "healthy", disabled: true }]],
      ["stateLabel", ["needs_reauth"]],
      ["stateTone", ["cooling"]],
      ["stateNote", [credential]],
      ["summaryText", [summary]],
      ["splitKeyFragment", ["#a=1&key=k%2B1"]],
    ];
    const exported = new Map(Object.entries(format).filter(([, v]) => typeof v === "function"));
    // every export is checked (parseTime through the time-taking ones)
    expect(calls.map(([name]) => name).sort()).toEqual(
      [...exported.keys()].filter((name) => name !== "parseTime").sort(),
    );
    for (const [name, args] of calls) {
      const inPage = vm.runInContext(name, context) as (...a: unknown[]) => unknown;
      const inNode = exported.get(name) as (...a: unknown[]) => unknown;
      // compared as JSON: objects made in the vm context have another realm's prototype
      expect(JSON.stringify(inPage(...args)), name).toBe(JSON.stringify(inNode(...args)));
    }
  });
});
