import { describe, expect, it } from "vitest";
import { MAX_MODEL_LENGTH, requestModel } from "./model-scope.js";

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe("requestModel", () => {
  it("reads the model from a Gemini style path", () => {
    expect(requestModel("/v1beta/models/gemini-2.5-pro:generateContent", undefined)).toBe(
      "gemini-2.5-pro",
    );
    expect(requestModel("/models/gemini-flash:streamGenerateContent", json({ model: "x" }))).toBe(
      "gemini-flash",
    );
    expect(requestModel("/v1beta/models/a%2Fb:generateContent", undefined)).toBe("a/b");
  });

  it("reads the model from the JSON body's model field", () => {
    expect(requestModel("/v1/chat/completions", json({ model: "gpt-4o", messages: [] }))).toBe(
      "gpt-4o",
    );
    expect(requestModel("/v1/messages", Buffer.from(' \n{"model":"claude-sonnet-4-5"}'))).toBe(
      "claude-sonnet-4-5",
    );
    expect(requestModel("/v1/x", json({ model: "qwen/qwen3-coder:free" }))).toBe(
      "qwen/qwen3-coder:free",
    );
  });

  it("gives no model for anything odd", () => {
    expect(requestModel("/v1/models", undefined)).toBeUndefined();
    expect(requestModel("/v1/x", json({ messages: [] }))).toBeUndefined();
    expect(requestModel("/v1/x", json({ model: 42 }))).toBeUndefined();
    expect(requestModel("/v1/x", json({ model: "" }))).toBeUndefined();
    expect(requestModel("/v1/x", json({ model: "a b" }))).toBeUndefined();
    expect(requestModel("/v1/x", json({ model: "m\n" }))).toBeUndefined();
    expect(
      requestModel("/v1/x", json({ model: "x".repeat(MAX_MODEL_LENGTH + 1) })),
    ).toBeUndefined();
    expect(requestModel("/v1/x", json({ model: "x".repeat(MAX_MODEL_LENGTH) }))).toBe(
      "x".repeat(MAX_MODEL_LENGTH),
    );
    expect(requestModel("/v1/x", json(["model"]))).toBeUndefined();
    expect(requestModel("/v1/x", Buffer.from("{not json"))).toBeUndefined();
    expect(requestModel("/v1/x", Buffer.from("model=gpt-4o"))).toBeUndefined();
    expect(requestModel("/models/a%ZZ:generateContent", undefined)).toBeUndefined();
  });
});
