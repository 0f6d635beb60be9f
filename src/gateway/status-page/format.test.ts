import { describe, expect, it } from "vitest";
import {
  agoText,
  backoffText,
  clockOffset,
  countText,
  durationText,
  expiryText,
  expiryTone,
  latencyText,
  parseTime,
  rateText,
  shownState,
  splitKeyFragment,
  stateLabel,
  stateNote,
  stateTone,
  summaryText,
} from "./format.js";

const NOW = Date.parse("2026-12-01T10:00:00.000Z");
const at = (offsetMs: number) => new Date(NOW + offsetMs).toISOString();

describe("durationText", () => {
  it("shows the two largest units, the smaller padded", () => {
    expect(durationText(0)).toBe("0s");
    expect(durationText(45_999)).toBe("45s");
    expect(durationText(185_000)).toBe("3m 05s");
    expect(durationText(2 * 3_600_000 + 4 * 60_000 + 59_000)).toBe("2h 04m");
    expect(durationText(3 * 86_400_000 + 4 * 3_600_000 + 5 * 60_000)).toBe("3d 4h");
  });

  it("never goes below zero", () => {
    expect(durationText(-5000)).toBe("0s");
  });
});

describe("countdowns on the server's clock", () => {
  it("a backoff shows the time left, rounded up, then that it ended", () => {
    expect(backoffText(at(30_000), NOW)).toBe("30s left");
    expect(backoffText(at(200), NOW)).toBe("1s left");
    expect(backoffText(at(90_500), NOW)).toBe("1m 31s left");
    expect(backoffText(at(0), NOW)).toBe("ended");
    expect(backoffText(undefined, NOW)).toBe("—");
    expect(backoffText("not a time", NOW)).toBe("—");
  });

  it("a token's expiry counts down, then shows how long ago it expired", () => {
    expect(expiryText(at(54 * 60_000 + 12_000), NOW)).toBe("in 54m 12s");
    expect(expiryText(at(-190_000), NOW)).toBe("expired 3m 10s ago");
    expect(expiryText(null, NOW)).toBe("—");
  });

  it("an expiry is a warning in its last five minutes and bad once past", () => {
    expect(expiryTone(at(10 * 60_000), NOW)).toBe("ok");
    expect(expiryTone(at(5 * 60_000), NOW)).toBe("warn");
    expect(expiryTone(at(0), NOW)).toBe("bad");
    expect(expiryTone(undefined, NOW)).toBe("none");
  });

  it("the clock offset is the server's time minus the browser's at arrival", () => {
    const browserAhead = NOW + 3_600_000;
    const offset = clockOffset(at(0), browserAhead);
    expect(offset).toBe(-3_600_000);
    // the countdown on the corrected clock is the one the server meant
    expect(expiryText(at(600_000), browserAhead + offset)).toBe("in 10m 00s");
    expect(clockOffset("garbage", browserAhead)).toBe(0);
  });

  it("tells how long ago a snapshot was taken", () => {
    expect(agoText(at(-400), NOW)).toBe("just now");
    expect(agoText(at(-25_000), NOW)).toBe("25s ago");
    expect(agoText(undefined, NOW)).toBe("—");
  });

  it("reads RFC 3339 times and nothing else", () => {
    expect(parseTime("2026-12-01T10:00:00.000Z")).toBe(NOW);
    expect(parseTime(NOW)).toBeUndefined();
    expect(parseTime("")).toBeUndefined();
  });
});

describe("numbers", () => {
  it("counts get thousands separators", () => {
    expect(countText(1234567)).toBe("1,234,567");
    expect(countText(0)).toBe("0");
    expect(countText("12")).toBe("—");
    expect(countText(Number.NaN)).toBe("—");
  });

  it("a success rate below 1 never shows as 100%", () => {
    expect(rateText(1, 10)).toBe("100%");
    expect(rateText(0.9999, 10_000)).toBe("99.9%");
    expect(rateText(0.995, 200)).toBe("99.5%");
    expect(rateText(0.5, 2)).toBe("50.0%");
    expect(rateText(0, 3)).toBe("0%");
  });

  it("a rate or a latency before the first request is a dash", () => {
    expect(rateText(1, 0)).toBe("—");
    expect(latencyText(0, 0)).toBe("—");
    expect(rateText(undefined, 5)).toBe("—");
    expect(latencyText(undefined, 5)).toBe("—");
  });

  it("latencies in ms, then in seconds", () => {
    expect(latencyText(0.4, 1)).toBe("<1 ms");
    expect(latencyText(84.6, 1)).toBe("85 ms");
    expect(latencyText(1250, 1)).toBe("1.25 s");
    expect(latencyText(12_340, 1)).toBe("12.3 s");
  });
});

describe("states", () => {
  it("every state of the library has a label and a tone", () => {
    expect([stateLabel("healthy"), stateTone("healthy")]).toEqual(["Healthy", "ok"]);
    expect([stateLabel("cooling"), stateTone("cooling")]).toEqual(["Cooling down", "warn"]);
    expect([stateLabel("unhealthy"), stateTone("unhealthy")]).toEqual(["Unhealthy", "bad"]);
    expect([stateLabel("needs_reauth"), stateTone("needs_reauth")]).toEqual([
      "Needs re-auth",
      "bad",
    ]);
  });

  it("a credential an operator disabled shows as Disabled, whatever its health", () => {
    const disabled = { state: "healthy", disabled: true };
    expect([stateLabel(shownState(disabled)), stateTone(shownState(disabled))]).toEqual([
      "Disabled",
      "none",
    ]);
    expect(shownState({ state: "cooling", disabled: false })).toBe("cooling");
    expect(shownState({ state: "cooling" })).toBe("cooling");
  });

  it("a state this page does not know shows as it came, an absent one as Unknown", () => {
    expect([stateLabel("disabled_by_admin"), stateTone("disabled_by_admin")]).toEqual([
      "disabled by admin",
      "none",
    ]);
    expect(stateLabel(undefined)).toBe("Unknown");
    expect(stateLabel(" ")).toBe("Unknown");
  });

  it("notes failures, failed refreshes and a rotation", () => {
    expect(stateNote({ failure_count: 0, refresh_fail_count: 0, marked_for_rotation: false })).toBe(
      "",
    );
    expect(stateNote({ failure_count: 1 })).toBe("1 failure");
    expect(stateNote({ failure_count: 3, refresh_fail_count: 2, marked_for_rotation: true })).toBe(
      "3 failures · 2 failed refreshes · rotating out",
    );
  });
});

describe("summaryText", () => {
  const summary = {
    provider: "gemini",
    total_credentials: 3,
    healthy_credentials: 2,
    unhealthy_credentials: 1,
    credentials_in_backoff: 1,
    total_requests: 1234,
    success_rate: 0.995,
    credentials: {},
  };

  it("sums a provider up in one line", () => {
    expect(summaryText(summary)).toBe(
      "2 of 3 healthy · 1 unavailable · 1,234 requests · 99.5% success",
    );
  });

  it("says when there was no request yet", () => {
    expect(summaryText({ ...summary, total_requests: 0, success_rate: 1 })).toBe(
      "2 of 3 healthy · 1 unavailable · no requests yet",
    );
    expect(summaryText({ ...summary, total_requests: 1, success_rate: 1 })).toContain(
      "1 request · 100% success",
    );
  });
});

describe("splitKeyFragment", () => {
  it("takes the key out and keeps the rest", () => {
    expect(splitKeyFragment("#key=abc")).toEqual({ key: "abc", rest: "" });
    expect(splitKeyFragment("#x=1&key=abc&y=2")).toEqual({ key: "abc", rest: "x=1&y=2" });
    expect(splitKeyFragment("#section")).toEqual({ key: undefined, rest: "section" });
  });

  it("decodes percent-escapes but keeps a + as it is", () => {
    expect(splitKeyFragment("#key=a+b%2Fc%3D")).toEqual({ key: "a+b/c=", rest: "" });
    expect(splitKeyFragment("#key=100%")).toEqual({ key: "100%", rest: "" });
  });

  it("an empty key is no key, and is removed too", () => {
    expect(splitKeyFragment("#key=")).toEqual({ key: undefined, rest: "" });
  });
});
