import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { apiBackoffMs, cappedExponentialMs, refreshBackoffMs } from "./backoff.js";

const count = fc.oneof(
  fc.integer({ min: -5, max: 200 }),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.constantFrom(Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER, 1e308),
);

describe("apiBackoffMs", () => {
  it("doubles from 1 s to 32 s, then stays at 60 s", () => {
    const steps = [1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => apiBackoffMs(n));
    expect(steps).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
  });

  it("is 0 without failures, and for NaN or negative counts", () => {
    for (const n of [0, -1, Number.NaN, Number.NEGATIVE_INFINITY]) expect(apiBackoffMs(n)).toBe(0);
  });

  it("a huge count neither overflows nor becomes NaN", () => {
    for (const n of [1_000, 2 ** 53, Number.MAX_VALUE, Number.POSITIVE_INFINITY]) {
      expect(apiBackoffMs(n)).toBe(60_000);
    }
  });

  it("rounds fractional counts down", () => {
    expect(apiBackoffMs(2.9)).toBe(2_000);
    expect(apiBackoffMs(0.5)).toBe(0);
  });

  it("jitter spreads a step over [step/2, step] (equal jitter)", () => {
    expect(apiBackoffMs(3, { jitter: true, random: () => 0 })).toBe(2_000);
    expect(apiBackoffMs(3, { jitter: true, random: () => 0.5 })).toBe(3_000);
    expect(apiBackoffMs(3, { jitter: true, random: () => 0.999999 })).toBe(3_999);
    expect(apiBackoffMs(3, { jitter: false, random: () => 0 })).toBe(4_000);
  });

  it("jitter survives a misbehaving random source", () => {
    expect(apiBackoffMs(3, { jitter: true, random: () => Number.NaN })).toBe(4_000);
    expect(apiBackoffMs(3, { jitter: true, random: () => -3 })).toBe(2_000);
    expect(apiBackoffMs(3, { jitter: true, random: () => 7 })).toBe(4_000);
  });

  it("jitter uses Math.random by default and stays in range", () => {
    for (let i = 0; i < 200; i++) {
      const ms = apiBackoffMs(7, { jitter: true });
      expect(ms).toBeGreaterThanOrEqual(30_000);
      expect(ms).toBeLessThanOrEqual(60_000);
    }
  });

  it("property: monotonic non-decreasing without jitter, never above 60 s", () => {
    fc.assert(
      fc.property(count, count, (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const x = apiBackoffMs(lo);
        const y = apiBackoffMs(hi);
        return x <= y && y <= 60_000 && Number.isInteger(x);
      }),
      { numRuns: 1000 },
    );
  });

  it("property: with jitter, always within [step/2, step] and an integer", () => {
    fc.assert(
      fc.property(count, fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (n, r) => {
        const step = apiBackoffMs(n);
        const ms = apiBackoffMs(n, { jitter: true, random: () => r });
        return Number.isInteger(ms) && ms >= step / 2 && ms <= step;
      }),
      { numRuns: 1000 },
    );
  });
});

describe("refreshBackoffMs", () => {
  it("is 0 below 5 failures, then 60, 120, 240 s and 480 s for good", () => {
    const steps = [0, 1, 4, 5, 6, 7, 8, 9, 50].map((n) => refreshBackoffMs(n));
    expect(steps).toEqual([0, 0, 0, 60_000, 120_000, 240_000, 480_000, 480_000, 480_000]);
  });

  it("honours another threshold", () => {
    expect(refreshBackoffMs(1, { threshold: 2 })).toBe(0);
    expect(refreshBackoffMs(2, { threshold: 2 })).toBe(60_000);
    expect(refreshBackoffMs(1, { threshold: 1 })).toBe(60_000);
  });

  it("rejects a threshold that is not an integer >= 1", () => {
    for (const threshold of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => refreshBackoffMs(5, { threshold })).toThrow(RangeError);
    }
    expect(() => refreshBackoffMs(5, { threshold: 0 })).toThrow(
      "Expected `threshold` to be an integer >= 1, got 0",
    );
  });

  it("a huge or invalid count is finite", () => {
    expect(refreshBackoffMs(Number.POSITIVE_INFINITY)).toBe(480_000);
    expect(refreshBackoffMs(Number.MAX_VALUE)).toBe(480_000);
    expect(refreshBackoffMs(Number.NaN)).toBe(0);
  });

  it("jitter spreads over [step/2, step]", () => {
    expect(refreshBackoffMs(5, { jitter: true, random: () => 0 })).toBe(30_000);
    expect(refreshBackoffMs(8, { jitter: true, random: () => 0.5 })).toBe(360_000);
  });

  it("property: monotonic non-decreasing without jitter, within [step/2, step] with it", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -2, max: 100 }),
        fc.integer({ min: -2, max: 100 }),
        fc.integer({ min: 1, max: 10 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (a, b, threshold, r) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          const x = refreshBackoffMs(lo, { threshold });
          const y = refreshBackoffMs(hi, { threshold });
          const j = refreshBackoffMs(hi, { threshold, jitter: true, random: () => r });
          return x <= y && y <= 480_000 && j >= y / 2 && j <= y;
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("cappedExponentialMs", () => {
  it("doubles from the base and stops at the cap", () => {
    expect([1, 2, 3, 4, 5].map((n) => cappedExponentialMs(n, 1_000, 5_000))).toEqual([
      1_000, 2_000, 4_000, 5_000, 5_000,
    ]);
  });

  it("stays finite for any attempt count, and a zero base stays zero", () => {
    expect(cappedExponentialMs(Number.POSITIVE_INFINITY, 1_000, 60_000)).toBe(60_000);
    expect(cappedExponentialMs(10_000, 0, 60_000)).toBe(0);
    expect(cappedExponentialMs(Number.NaN, 1_000, 60_000)).toBe(1_000);
    expect(cappedExponentialMs(0, 1_000, 60_000)).toBe(1_000);
  });
});
