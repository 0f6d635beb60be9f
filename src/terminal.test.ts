import { describe, expect, it } from "vitest";
import { columns, painter, span, useColor } from "./terminal.js";

describe("terminal conventions", () => {
  it("colours a terminal, never with NO_COLOR, anywhere with FORCE_COLOR", () => {
    expect(useColor(true, {})).toBe(true);
    expect(useColor(false, {})).toBe(false);
    expect(useColor(undefined, {})).toBe(false);
    expect(useColor(true, { NO_COLOR: "1" })).toBe(false);
    expect(useColor(true, { NO_COLOR: "1", FORCE_COLOR: "1" })).toBe(false);
    // An empty NO_COLOR does not count (no-color.org: "present and not an empty string").
    expect(useColor(true, { NO_COLOR: "" })).toBe(true);
    expect(useColor(false, { FORCE_COLOR: "1" })).toBe(true);
    expect(useColor(true, { FORCE_COLOR: "0" })).toBe(false);
  });

  it("aligns columns on the text, not on the colour codes", () => {
    const paint = painter(true);
    const lines = columns([
      [{ text: "A" }, { text: "ok", painted: paint("ok", "green") }, { text: "x" }],
      [{ text: "longer" }, { text: "failing", painted: paint("failing", "red") }, { text: "y" }],
    ]);
    expect(lines).toEqual([
      "  A       \u001b[32mok\u001b[0m       x",
      "  longer  \u001b[31mfailing\u001b[0m  y",
    ]);
    expect(painter(false)("ok", "green")).toBe("ok");
  });

  it("writes spans with their two largest units", () => {
    expect(span(0)).toBe("0s");
    expect(span(42_400)).toBe("42s");
    expect(span(12 * 60_000 + 5_000)).toBe("12m05s");
    expect(span(5 * 3_600_000 + 7 * 60_000 + 59_000)).toBe("5h07m");
    expect(span(3 * 86_400_000 + 4 * 3_600_000)).toBe("3d4h");
    expect(span(-5_000)).toBe("0s");
  });
});
