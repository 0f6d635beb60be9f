/**
 * How each preset wires the catalog into the generic refresher. The refresher itself is replaced
 * by a recorder here; requests against local endpoints shaped like each provider are tested with
 * the real refresher end to end.
 */
import { beforeEach, describe, expect, it, vi } from "vitest";
import { PROVIDER_CATALOG } from "./catalog.js";

const calls: { options: unknown; hooks: unknown }[] = [];
vi.mock("./oauth2.js", () => ({
  createRefresher: (options: unknown, hooks: unknown) => {
    calls.push({ options, hooks });
    return async () => {
      throw new Error("not called in these tests");
    };
  },
}));

const { anthropicRefresh, geminiRefresh, openaiRefresh, presetRefresh, qwenRefresh } = await import(
  "./presets.js"
);

beforeEach(() => {
  calls.length = 0;
});

describe("the presets", () => {
  it.each([
    ["gemini", geminiRefresh],
    ["qwen", qwenRefresh],
    ["anthropic", anthropicRefresh],
    ["openai", openaiRefresh],
  ] as const)("%s uses its catalog entry", (name, preset) => {
    expect(preset()).toBeTypeOf("function");
    expect(calls).toEqual([
      { options: { ...PROVIDER_CATALOG[name].options }, hooks: PROVIDER_CATALOG[name].hooks },
    ]);
  });

  it("lets every option be overridden, and ignores overrides given as undefined", () => {
    const fetch = async () => new Response();
    qwenRefresh({ tokenUrl: "http://127.0.0.1:9/token", fetch, timeoutMs: undefined });
    expect(calls[0]?.options).toEqual({
      tokenUrl: "http://127.0.0.1:9/token",
      bodyFormat: "form",
      clientAuth: "body",
      fetch,
    });
    geminiRefresh({ clientId: "mine", bodyFormat: undefined });
    expect(calls[1]?.options).toMatchObject({ clientId: "mine", bodyFormat: "form" });
  });

  it("refuses options that are not an object", () => {
    expect(() => openaiRefresh("https://x" as never)).toThrow(
      "Expected `options` to be an object, got a string",
    );
    expect(() => openaiRefresh(null as never)).toThrow("got null");
  });
});

describe("presetRefresh", () => {
  it("gives the preset for the four provider names", () => {
    for (const name of ["gemini", "qwen", "anthropic", "openai"] as const) {
      calls.length = 0;
      expect(presetRefresh(name, { timeoutMs: 5_000 })).toBeTypeOf("function");
      expect(calls[0]?.options).toEqual({ ...PROVIDER_CATALOG[name].options, timeoutMs: 5_000 });
    }
  });

  it("gives undefined for any other name", () => {
    for (const name of ["custom", "Gemini", "claude", "codex", "constructor", ""]) {
      expect(presetRefresh(name)).toBeUndefined();
    }
    expect(calls).toEqual([]);
  });

  it("refuses a provider that is not a string", () => {
    expect(() => presetRefresh(1 as never)).toThrow(
      "Expected `provider` to be a string, got a number",
    );
  });
});
