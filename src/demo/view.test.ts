import { describe, expect, it } from "vitest";
import { credentialRows, isLiveTerminal, LiveScreen, painter, tableLines } from "./view.js";

const NOW = Date.parse("2026-12-01T03:00:00Z");

const STATUS = {
  generated_at: "2026-12-01T03:00:00.000Z",
  providers: {
    sim: {
      credentials: {
        "account-a": {
          id: "account-a",
          state: "cooling",
          backoff_until: "2026-12-01T03:00:02.100Z",
          expires_at: "2026-12-01T03:00:14.000Z",
          request_count: 40,
          success_rate: 0.975,
          latency_p95: 41.6,
          refresh_count: 2,
        },
        "account-b": { id: "account-b", state: "healthy", request_count: 0, refresh_count: 0 },
      },
    },
  },
};

const TOTALS = { requests: 40, ok: 40, failedOver: 1, errors: 0, refreshes: 2 };

describe("the demo's view", () => {
  it("reads the credentials of /status, tolerating missing fields", () => {
    expect(credentialRows(STATUS, "sim", NOW)).toEqual([
      {
        id: "account-a",
        state: "cooling",
        backoffMs: 2_100,
        expiresInMs: 14_000,
        requests: 40,
        successRate: 0.975,
        p95Ms: 41.6,
        refreshes: 2,
      },
      {
        id: "account-b",
        state: "healthy",
        backoffMs: 0,
        expiresInMs: undefined,
        requests: 0,
        successRate: 0,
        p95Ms: 0,
        refreshes: 0,
      },
    ]);
    expect(credentialRows({}, "sim", NOW)).toEqual([]);
    expect(credentialRows(STATUS, "other", NOW)).toEqual([]);
  });

  it("lays out a table with aligned columns and totals, without escape codes when plain", () => {
    const lines = tableLines(credentialRows(STATUS, "sim", NOW), TOTALS, painter(false));
    expect(lines).toEqual([
      "  CREDENTIAL  STATE    BACKOFF  TOKEN EXPIRES  REQUESTS  SUCCESS  p95",
      "  account-a   cooling  3s       in 14s         40        97.5%    42 ms",
      "  account-b   healthy  -        never          0         -        -",
      "  requests 40   ok 40   failed over 1   errors 0   refreshes 2",
    ]);
  });

  it("colours states without shifting the columns", () => {
    const plain = tableLines(credentialRows(STATUS, "sim", NOW), TOTALS, painter(false));
    const coloured = tableLines(credentialRows(STATUS, "sim", NOW), TOTALS, painter(true));
    expect(coloured[1]).toContain("\u001b[33mcooling\u001b[0m");
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping the codes is the point
    expect(coloured.map((l) => l.replace(/\u001b\[\d+m/g, ""))).toEqual(plain);
  });

  it("redraws in place: up over the previous block, cleared; the cursor hidden, then shown", () => {
    const out: string[] = [];
    const screen = new LiveScreen((l) => out.push(l));
    screen.draw(["a", "b", "c"]);
    screen.draw(["d", "e", "f"]);
    screen.end();
    screen.end();
    expect(out).toEqual(["\u001b[?25la", "b", "c", "\u001b[3F\u001b[Jd", "e", "f", "\u001b[?25h"]);
  });

  it("is live only on a terminal that is not dumb, and never with NO_COLOR", () => {
    expect(isLiveTerminal(true, {})).toBe(true);
    expect(isLiveTerminal(false, {})).toBe(false);
    expect(isLiveTerminal(undefined, {})).toBe(false);
    expect(isLiveTerminal(true, { NO_COLOR: "1" })).toBe(false);
    expect(isLiveTerminal(true, { NO_COLOR: "" })).toBe(true);
    expect(isLiveTerminal(true, { TERM: "dumb" })).toBe(false);
  });
});
