import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import type { RefreshStrategy } from "../types.js";
import {
  adaptiveRefreshStrategy,
  calculateBufferTime,
  conservativeRefreshStrategy,
  defaultRefreshStrategy,
  effectiveBufferTime,
  type MetricsForStrategy,
  shouldRefresh,
  validateRefreshStrategy,
} from "./strategy.js";

const S = 1_000;
const MIN = 60 * S;
const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);

/** Metrics that add nothing by themselves: fast, quiet, all successful. */
const calm: MetricsForStrategy = {
  requestCount: 1,
  averageLatency: 0,
  requestsPerHour: 1,
  successRate: 1,
};

describe("presets", () => {
  it("default: 5 min / off / 1 min / 15 min / off / 100", () => {
    expect(defaultRefreshStrategy()).toEqual({
      bufferTime: 300_000,
      adaptiveBuffer: false,
      minBuffer: 60_000,
      maxBuffer: 900_000,
      preemptiveRefresh: false,
      highTrafficThreshold: 100,
    });
  });

  it("adaptive: the default with adaptive buffer and preemptive refresh on", () => {
    expect(adaptiveRefreshStrategy()).toEqual({
      bufferTime: 300_000,
      adaptiveBuffer: true,
      minBuffer: 60_000,
      maxBuffer: 900_000,
      preemptiveRefresh: true,
      highTrafficThreshold: 100,
    });
  });

  it("conservative: 15 min / off / 10 min / 30 min / on / 50", () => {
    expect(conservativeRefreshStrategy()).toEqual({
      bufferTime: 900_000,
      adaptiveBuffer: false,
      minBuffer: 600_000,
      maxBuffer: 1_800_000,
      preemptiveRefresh: true,
      highTrafficThreshold: 50,
    });
  });

  it("each call returns a fresh object", () => {
    for (const make of [
      defaultRefreshStrategy,
      adaptiveRefreshStrategy,
      conservativeRefreshStrategy,
    ]) {
      const a = make();
      a.bufferTime = 1;
      expect(make().bufferTime).not.toBe(1);
      expect(make()).not.toBe(make());
    }
  });

  it("every preset passes validation", () => {
    for (const make of [
      defaultRefreshStrategy,
      adaptiveRefreshStrategy,
      conservativeRefreshStrategy,
    ]) {
      expect(validateRefreshStrategy(make())).toEqual(make());
    }
  });
});

describe("validateRefreshStrategy", () => {
  const valid = defaultRefreshStrategy;

  it("returns a copy holding only the six fields", () => {
    const input = { ...valid(), extra: "x" };
    const out = validateRefreshStrategy(input);
    expect(out).toEqual(valid());
    expect(out).not.toBe(input);
  });

  it.each([
    ["bufferTime", -1],
    ["bufferTime", Number.NaN],
    ["bufferTime", Number.POSITIVE_INFINITY],
    ["minBuffer", -60_000],
    ["maxBuffer", 2 ** 31],
    ["highTrafficThreshold", -1],
    ["highTrafficThreshold", Number.NaN],
    ["highTrafficThreshold", Number.POSITIVE_INFINITY],
  ])("rejects %s = %d with a RangeError naming the field", (field, value) => {
    expect(() => validateRefreshStrategy({ ...valid(), [field]: value })).toThrow(RangeError);
    expect(() => validateRefreshStrategy({ ...valid(), [field]: value })).toThrow(
      `refreshStrategy.${field}`,
    );
  });

  it("rejects minBuffer > maxBuffer", () => {
    expect(() =>
      validateRefreshStrategy({ ...valid(), minBuffer: 20 * MIN, maxBuffer: 10 * MIN }),
    ).toThrow(
      "Expected `refreshStrategy.minBuffer` (1200000) to be <= `refreshStrategy.maxBuffer` (600000)",
    );
  });

  it("a maxBuffer of 0 means no upper bound", () => {
    expect(
      validateRefreshStrategy({ ...valid(), minBuffer: 20 * MIN, maxBuffer: 0 }).maxBuffer,
    ).toBe(0);
  });

  it("accepts zero durations and the largest timer delay", () => {
    expect(() =>
      validateRefreshStrategy({ ...valid(), bufferTime: 0, minBuffer: 0, maxBuffer: 0 }),
    ).not.toThrow();
    expect(() => validateRefreshStrategy({ ...valid(), maxBuffer: 2 ** 31 - 1 })).not.toThrow();
  });

  it("rejects wrong types with a TypeError", () => {
    expect(() => validateRefreshStrategy(null)).toThrow(TypeError);
    expect(() => validateRefreshStrategy("5m")).toThrow(
      "Expected `refreshStrategy` to be an object, got a string",
    );
    expect(() => validateRefreshStrategy({ ...valid(), bufferTime: "5 minutes" })).toThrow(
      "Expected `refreshStrategy.bufferTime` to be milliseconds, got a string",
    );
    expect(() => validateRefreshStrategy({ ...valid(), adaptiveBuffer: "yes" })).toThrow(TypeError);
    expect(() => validateRefreshStrategy({ ...valid(), highTrafficThreshold: undefined })).toThrow(
      TypeError,
    );
  });

  it("names the path it is given", () => {
    expect(() =>
      validateRefreshStrategy({ ...valid(), bufferTime: -1 }, "providers.x.refresh_strategy"),
    ).toThrow("`providers.x.refresh_strategy.bufferTime`");
  });
});

describe("calculateBufferTime", () => {
  it("without adaptiveBuffer is bufferTime, whatever the metrics", () => {
    const s = { ...defaultRefreshStrategy(), bufferTime: 30 * S };
    expect(calculateBufferTime(s)).toBe(30 * S);
    expect(calculateBufferTime(s, { requestCount: 9, averageLatency: 5_000, successRate: 0 })).toBe(
      30 * S,
    );
  });

  it("adaptive without metrics, or with requestCount 0, adds nothing", () => {
    const s = adaptiveRefreshStrategy();
    expect(calculateBufferTime(s)).toBe(5 * MIN);
    expect(
      calculateBufferTime(s, {
        requestCount: 0,
        averageLatency: 900,
        requestsPerHour: 500,
        successRate: 0,
      }),
    ).toBe(5 * MIN);
    expect(calculateBufferTime(s, calm)).toBe(5 * MIN);
  });

  it("adds 30 s per 100 ms of average latency", () => {
    const s = adaptiveRefreshStrategy();
    expect(calculateBufferTime(s, { ...calm, averageLatency: 100 })).toBe(5 * MIN + 30 * S);
    expect(calculateBufferTime(s, { ...calm, averageLatency: 200 })).toBe(5 * MIN + 60 * S);
    // pro rata, cut to whole seconds: 150 ms → 45 s, 33 ms → 9.9 s → 9 s
    expect(calculateBufferTime(s, { ...calm, averageLatency: 150 })).toBe(5 * MIN + 45 * S);
    expect(calculateBufferTime(s, { ...calm, averageLatency: 33 })).toBe(5 * MIN + 9 * S);
  });

  it("adds 30 s per 10 requests/hour above 10 requests/hour", () => {
    const s = adaptiveRefreshStrategy();
    expect(calculateBufferTime(s, { ...calm, requestsPerHour: 10 })).toBe(5 * MIN);
    expect(calculateBufferTime(s, { ...calm, requestsPerHour: 20 })).toBe(5 * MIN + 30 * S);
    expect(calculateBufferTime(s, { ...calm, requestsPerHour: 45 })).toBe(5 * MIN + 105 * S);
  });

  it("adds 60 s × 10 × (0.95 − successRate) below 95 % success", () => {
    const s = adaptiveRefreshStrategy();
    expect(calculateBufferTime(s, { ...calm, successRate: 0.95 })).toBe(5 * MIN);
    // 0.95 − 0.9 is 0.04999… in floating point; still a whole 30 s
    expect(calculateBufferTime(s, { ...calm, successRate: 0.9 })).toBe(5 * MIN + 30 * S);
    expect(calculateBufferTime(s, { ...calm, successRate: 0.8 })).toBe(5 * MIN + 90 * S);
    expect(calculateBufferTime(s, { ...calm, successRate: 0 })).toBe(5 * MIN + 570 * S);
  });

  it("worked example: 5 min + 75 s + 105 s + 90 s = 9.5 min", () => {
    const m: MetricsForStrategy = {
      requestCount: 40,
      averageLatency: 250,
      requestsPerHour: 45,
      successRate: 0.8,
    };
    expect(calculateBufferTime(adaptiveRefreshStrategy(), m)).toBe(570 * S);
  });

  it("clamps to [minBuffer, maxBuffer]", () => {
    const s = adaptiveRefreshStrategy();
    expect(calculateBufferTime(s, { ...calm, averageLatency: 10_000 })).toBe(15 * MIN);
    const small = { ...s, bufferTime: 10 * S };
    expect(calculateBufferTime(small, calm)).toBe(1 * MIN);
    expect(calculateBufferTime(small)).toBe(1 * MIN);
  });

  it("a bound of 0 is no bound", () => {
    const s = { ...adaptiveRefreshStrategy(), minBuffer: 0, maxBuffer: 0, bufferTime: 10 * S };
    expect(calculateBufferTime(s, calm)).toBe(10 * S);
    expect(calculateBufferTime(s, { ...calm, averageLatency: 10_000 })).toBe(10 * S + 3_000 * S);
  });

  it("ignores non-finite or missing metric fields", () => {
    const s = adaptiveRefreshStrategy();
    expect(calculateBufferTime(s, {})).toBe(5 * MIN);
    expect(
      calculateBufferTime(s, {
        averageLatency: Number.NaN,
        requestsPerHour: Number.POSITIVE_INFINITY,
        successRate: Number.NaN,
      }),
    ).toBe(5 * MIN);
  });

  it("property: with bounds, the adaptive buffer stays in [minBuffer, maxBuffer]", () => {
    fc.assert(
      fc.property(
        fc.record({
          requestCount: fc.nat(),
          averageLatency: fc.double({ min: 0, max: 1e9, noNaN: true }),
          requestsPerHour: fc.double({ min: 0, max: 1e9, noNaN: true }),
          successRate: fc.double({ min: 0, max: 1, noNaN: true }),
        }),
        (m) => {
          const ms = calculateBufferTime(adaptiveRefreshStrategy(), m);
          return ms >= 1 * MIN && ms <= 15 * MIN && Number.isInteger(ms);
        },
      ),
    );
  });
});

describe("effectiveBufferTime (preemptive refresh)", () => {
  const busy: MetricsForStrategy = { ...calm, requestsPerHour: 100 };

  it("doubles the buffer for a high-traffic credential, capped at maxBuffer", () => {
    const s: RefreshStrategy = { ...defaultRefreshStrategy(), preemptiveRefresh: true };
    expect(effectiveBufferTime(s, { ...calm, requestsPerHour: 99 })).toBe(5 * MIN);
    expect(effectiveBufferTime(s, busy)).toBe(10 * MIN);
    expect(effectiveBufferTime({ ...s, bufferTime: 10 * MIN }, busy)).toBe(15 * MIN);
    expect(effectiveBufferTime({ ...s, maxBuffer: 0, bufferTime: 10 * MIN }, busy)).toBe(20 * MIN);
  });

  it("never shortens the buffer when bufferTime already exceeds maxBuffer", () => {
    const s: RefreshStrategy = {
      ...defaultRefreshStrategy(),
      preemptiveRefresh: true,
      bufferTime: 20 * MIN,
    };
    expect(effectiveBufferTime(s, busy)).toBe(20 * MIN);
  });

  it("needs preemptiveRefresh and usage", () => {
    expect(effectiveBufferTime(defaultRefreshStrategy(), busy)).toBe(5 * MIN);
    const s: RefreshStrategy = { ...defaultRefreshStrategy(), preemptiveRefresh: true };
    expect(effectiveBufferTime(s)).toBe(5 * MIN);
    expect(effectiveBufferTime(s, { ...busy, requestCount: 0 })).toBe(5 * MIN);
  });

  it("conservative: 15 min, 30 min from 50 requests/hour", () => {
    expect(
      effectiveBufferTime(conservativeRefreshStrategy(), { ...calm, requestsPerHour: 49 }),
    ).toBe(15 * MIN);
    expect(
      effectiveBufferTime(conservativeRefreshStrategy(), { ...calm, requestsPerHour: 50 }),
    ).toBe(30 * MIN);
  });
});

describe("shouldRefresh", () => {
  const at = (ms: number) => new Date(NOW + ms);

  it("the default refreshes within 5 minutes of expiry", () => {
    const s = defaultRefreshStrategy();
    expect(shouldRefresh(s, { accessToken: "t", expiresAt: at(60 * MIN) }, undefined, NOW)).toBe(
      false,
    );
    expect(shouldRefresh(s, { accessToken: "t", expiresAt: at(6 * MIN) }, undefined, NOW)).toBe(
      false,
    );
    expect(shouldRefresh(s, { accessToken: "t", expiresAt: at(5 * MIN + 1) }, undefined, NOW)).toBe(
      false,
    );
    expect(shouldRefresh(s, { accessToken: "t", expiresAt: at(5 * MIN) }, undefined, NOW)).toBe(
      true,
    );
    expect(shouldRefresh(s, { accessToken: "t", expiresAt: at(3 * MIN) }, undefined, NOW)).toBe(
      true,
    );
    expect(shouldRefresh(s, { accessToken: "t", expiresAt: at(-60 * MIN) }, undefined, NOW)).toBe(
      true,
    );
  });

  it("an empty access token is always refreshed", () => {
    expect(shouldRefresh(defaultRefreshStrategy(), { accessToken: "" }, undefined, NOW)).toBe(true);
    expect(
      shouldRefresh(
        defaultRefreshStrategy(),
        { accessToken: "", expiresAt: at(60 * MIN) },
        undefined,
        NOW,
      ),
    ).toBe(true);
  });

  it("an unknown or invalid expiry is never refreshed by time", () => {
    expect(shouldRefresh(defaultRefreshStrategy(), { accessToken: "t" }, undefined, NOW)).toBe(
      false,
    );
    expect(
      shouldRefresh(
        defaultRefreshStrategy(),
        { accessToken: "t", expiresAt: new Date(Number.NaN) },
        undefined,
        NOW,
      ),
    ).toBe(false);
  });

  it("a high-traffic credential is refreshed earlier under preemptive refresh", () => {
    const cred = { accessToken: "t", expiresAt: at(8 * MIN) };
    const s: RefreshStrategy = { ...defaultRefreshStrategy(), preemptiveRefresh: true };
    expect(shouldRefresh(s, cred, { ...calm, requestsPerHour: 150 }, NOW)).toBe(true);
    expect(shouldRefresh(s, cred, { ...calm, requestsPerHour: 50 }, NOW)).toBe(false);
  });

  it("the adaptive buffer applies", () => {
    const cred = { accessToken: "t", expiresAt: at(9 * MIN) };
    const m: MetricsForStrategy = {
      requestCount: 40,
      averageLatency: 250,
      requestsPerHour: 45,
      successRate: 0.8,
    };
    expect(shouldRefresh(adaptiveRefreshStrategy(), cred, m, NOW)).toBe(true);
    expect(shouldRefresh(adaptiveRefreshStrategy(), cred, calm, NOW)).toBe(false);
  });

  it("uses Date.now() when no time is given", () => {
    vi.useFakeTimers({ now: NOW });
    try {
      const s = defaultRefreshStrategy();
      expect(shouldRefresh(s, { accessToken: "t", expiresAt: at(5 * MIN) })).toBe(true);
      expect(shouldRefresh(s, { accessToken: "t", expiresAt: at(5 * MIN + 1) })).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});
