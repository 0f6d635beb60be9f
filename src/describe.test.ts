import { expect, it, describe as suite } from "vitest";
import { describe, describeSetting } from "./describe.js";

suite("describe", () => {
  it.each([
    [undefined, "undefined"],
    [null, "null"],
    ["", "an empty string"],
    ["sk-live-secret", "a string"],
    [12345, "a number"],
    [true, "a boolean"],
    [[1], "an array"],
    [{ token: "x" }, "an object"],
    [new Date(0), "a Date"],
    [new Date(Number.NaN), "an invalid Date"],
    [() => {}, "a function"],
  ])("names %o by its kind: %s", (value, expected) => {
    expect(describe(value)).toBe(expected);
  });

  it("never quotes a string, however short", () => {
    expect(describe("abc")).not.toContain("abc");
  });

  it("shows a setting's number or boolean, and only names anything else", () => {
    expect(describeSetting(-1)).toBe("-1");
    expect(describeSetting(Number.NaN)).toBe("NaN");
    expect(describeSetting(false)).toBe("false");
    expect(describeSetting("5m")).toBe("a string");
  });
});
