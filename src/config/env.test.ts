// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} placeholders are literal text here
import { describe, expect, it } from "vitest";
import { type RawIssue, resolveValues, substitute, UNRESOLVED } from "./env.js";

describe("substitute", () => {
  const env = { A: "alpha", EMPTY: "", SPECIAL: "a: b # c {d} [e] 'f' \"g\"" };

  it.each([
    ["plain", "plain"],
    ["${A}", "alpha"],
    ["x-${A}-y", "x-alpha-y"],
    ["${A}${A}", "alphaalpha"],
    ["${MISSING:-fallback}", "fallback"],
    ["${MISSING:-}", ""],
    ["${EMPTY:-fallback}", "fallback"],
    ["${EMPTY}", ""],
    ["${A:-fallback}", "alpha"],
    ["$${A}", "${A}"],
    ["$$${A}", "$${A}"], // read left to right: "$", then the escape
    ["$A {A} $", "$A {A} $"],
    ["${SPECIAL}", env.SPECIAL],
  ])("%s → %s", (input, output) => {
    expect(substitute(input, env)).toEqual({ ok: true, value: output });
  });

  it("does not re-scan substituted values", () => {
    expect(substitute("${X}", { X: "${A}", A: "no" })).toEqual({ ok: true, value: "${A}" });
  });

  it("names an unset variable, never a value", () => {
    const result = substitute("Bearer s3cr3t-${TOKEN}", env);
    expect(result).toEqual({
      ok: false,
      message: "environment variable TOKEN is not set (write ${TOKEN:-default} to give a default)",
    });
  });

  it.each(["${", "${A", "${}", "${1A}", "${A B}", "${A:-${B}}", "${A-x}"])(
    "rejects the malformed placeholder %s",
    (input) => {
      const result = substitute(input, env);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.message).toMatch(/placeholder/);
    },
  );

  it("ignores names plain objects inherit", () => {
    expect(substitute("${constructor}", {}).ok).toBe(false);
    expect(substitute("${toString:-x}", {})).toEqual({ ok: true, value: "x" });
  });
});

describe("resolveValues", () => {
  it("converts maps, substitutes strings and reports at the path", () => {
    const issues: RawIssue[] = [];
    const input = new Map<unknown, unknown>([
      ["a", ["${A}", 1, true, null]],
      [2, new Map([["b", "${NOPE}"]])],
      ["__proto__", "x"],
      [["complex"], "y"],
    ]);
    const out = resolveValues(input, { A: "v" }, issues);
    expect(out).toEqual({ a: ["v", 1, true, null], "2": { b: UNRESOLVED } });
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(issues).toEqual([
      { path: ["2", "b"], message: expect.stringContaining("NOPE is not set") },
      { path: [], message: 'key "__proto__" is not allowed' },
      { path: [], message: expect.stringContaining("mapping key must be a plain value") },
    ]);
  });

  it("refuses absurd nesting instead of overflowing the stack", () => {
    let deep: unknown = "leaf";
    for (let i = 0; i < 1_000; i++) deep = [deep];
    const issues: RawIssue[] = [];
    resolveValues(deep, {}, issues);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.message).toMatch(/nested more than 64 levels/);
  });
});
