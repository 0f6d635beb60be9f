import { describe, expect, it } from "vitest";
import {
  formatDuration,
  MAX_DURATION_MS,
  MAX_LONG_DURATION_MS,
  parseDuration,
} from "./duration.js";

describe("parseDuration", () => {
  it.each([
    [500, 500],
    [0.4, 0],
    ["500", 500],
    ["500ms", 500],
    ["90s", 90_000],
    ["5m", 300_000],
    ["24h", 86_400_000],
    ["1h30m", 5_400_000],
    ["1d2h3m4s5ms", 93_784_005],
    ["1.5h", 5_400_000],
    ["24d", 24 * 86_400_000],
    [MAX_DURATION_MS, MAX_DURATION_MS],
  ])("accepts %j as %d ms", (input, ms) => {
    expect(parseDuration(input, { allowZero: true })).toEqual({ ok: true, ms });
  });

  it.each([
    [-1, "must not be negative"],
    ["-5m", "must not be negative"],
    [0, "must be greater than 0"],
    ["0s", "must be greater than 0"],
    [Number.NaN, "not a finite number"],
    [Number.POSITIVE_INFINITY, "not a finite number"],
    ["5 minutes", "not a duration"],
    ["5 m", "not a duration"],
    ["5M", "not a duration"],
    ["m5", "not a duration"],
    ["", "not a duration"],
    ["1h30", "not a duration"],
    ["1e3", "not a duration"],
    [true, "not a duration"],
    [null, "not a duration"],
    [MAX_DURATION_MS + 1, "must be at most 24d20h31m23s647ms (2147483647 ms)"],
    ["25d", "must be at most"],
  ])("rejects %j: %s", (input, message) => {
    const result = parseDuration(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toContain(message);
  });

  it("allows zero only where asked", () => {
    expect(parseDuration(0, { allowZero: true })).toEqual({ ok: true, ms: 0 });
  });

  it("takes a larger cap for long durations such as 30 days", () => {
    expect(parseDuration("30d", { max: MAX_LONG_DURATION_MS })).toEqual({
      ok: true,
      ms: 30 * 86_400_000,
    });
    expect(parseDuration("3651d", { max: MAX_LONG_DURATION_MS }).ok).toBe(false);
  });

  it("formats milliseconds the way it parses them", () => {
    for (const ms of [1, 999, 1_000, 90_000, 5_400_000, 93_784_005, MAX_DURATION_MS]) {
      expect(parseDuration(formatDuration(ms))).toEqual({ ok: true, ms });
    }
    expect(formatDuration(0)).toBe("0ms");
  });
});
