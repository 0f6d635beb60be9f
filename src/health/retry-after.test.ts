import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseHttpDate, parseRetryAfter, retryAfterFromError } from "./retry-after.js";

// 2026-03-01T12:00:00Z
const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);

describe("parseRetryAfter (RFC 9110 §10.2.3)", () => {
  it.each([
    ["120", 120_000],
    [" 120", 120_000],
    ["120 ", 120_000],
    ["\t120\t", 120_000],
    ["0", 0],
    ["0007", 7_000],
  ])("delay-seconds %j → %d ms", (value, ms) => {
    expect(parseRetryAfter(value, NOW)).toBe(ms);
  });

  it("reads digits before dates: '120' is 120 s, not the year 120", () => {
    expect(parseRetryAfter("120", NOW)).toBe(120_000);
    expect(parseRetryAfter("2", NOW)).toBe(2_000);
  });

  it.each([
    ["IMF-fixdate", "Sun, 01 Mar 2026 12:02:00 GMT"],
    ["RFC 850", "Sunday, 01-Mar-26 12:02:00 GMT"],
    ["asctime", "Sun Mar  1 12:02:00 2026"],
  ])("HTTP-date in %s format → time until then", (_format, value) => {
    expect(parseRetryAfter(value, NOW)).toBe(120_000);
  });

  it("accepts the RFC 9110 example dates", () => {
    const t = Date.UTC(1994, 10, 6, 8, 49, 37);
    expect(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT", NOW)).toBe(t);
    expect(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT", NOW)).toBe(t);
    expect(parseHttpDate("Sun Nov  6 08:49:37 1994", NOW)).toBe(t);
  });

  it("a date in the past means wait 0", () => {
    expect(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", NOW)).toBe(0);
    expect(parseRetryAfter("Sun, 01 Mar 2026 11:59:59 GMT", NOW)).toBe(0);
  });

  it("a two-digit RFC 850 year more than 50 years ahead is in the past century", () => {
    expect(new Date(parseHttpDate("Monday, 01-Jan-76 00:00:00 GMT", NOW)!).getUTCFullYear()).toBe(
      2076,
    );
    expect(new Date(parseHttpDate("Friday, 01-Jan-77 00:00:00 GMT", NOW)!).getUTCFullYear()).toBe(
      1977,
    );
  });

  it("a huge delay-seconds stays finite and exact-integer; nothing caps it here", () => {
    expect(parseRetryAfter("1590000", NOW)).toBe(1_590_000_000);
    const huge = parseRetryAfter("9".repeat(400), NOW);
    expect(huge).toBe(Number.MAX_SAFE_INTEGER);
    expect(Number.isFinite(huge)).toBe(true);
    expect(parseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", NOW)).toBeGreaterThan(0);
  });

  it.each([
    "-5",
    "+5",
    "1000abc",
    "1.5",
    "1e3",
    "",
    "   ",
    "soon",
    "NaN",
    "Infinity",
    "0x10",
    "120, 120",
    "2026-03-01T12:02:00Z",
    "March 1, 2026",
    "Sun, 01 Mar 2026 12:02:00",
    "Sun, 01 Mar 2026 12:02:00 UTC",
    "Sun, 31 Feb 2026 12:00:00 GMT",
    "Sun, 01 Mar 2026 24:00:00 GMT",
    "Sun, 01 Mar 2026 12:60:00 GMT",
    "Sunday, 01-Mar-2026 12:02:00 GMT",
    "Sun, 01-Mar-26 12:02:00 GMT",
    "Sun Mar  1 12:02:00 26",
  ])("rejects %j (falls back to backoff)", (value) => {
    expect(parseRetryAfter(value, NOW)).toBeUndefined();
  });

  it("rejects null, undefined and non-strings", () => {
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
    expect(parseRetryAfter(120 as unknown as string, NOW)).toBeUndefined();
  });

  it("a date cannot be resolved without a valid clock; delay-seconds can", () => {
    expect(parseRetryAfter("Sun, 01 Mar 2026 12:02:00 GMT", Number.NaN)).toBeUndefined();
    expect(parseRetryAfter("5", Number.NaN)).toBe(5_000);
  });

  it("property: never NaN, negative or infinite, for any string", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.nat().map(String)),
        (s) => {
          const ms = parseRetryAfter(s, NOW);
          return ms === undefined || (Number.isFinite(ms) && ms >= 0);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("property: any date round-trips through IMF-fixdate", () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date(Date.UTC(1000, 0, 1)),
          max: new Date(Date.UTC(9999, 11, 31)),
          noInvalidDate: true,
        }),
        (d) => {
          const t = Math.floor(d.getTime() / 1000) * 1000;
          const value = new Date(t).toUTCString();
          return (
            parseHttpDate(value, NOW) === t && parseRetryAfter(value, NOW) === Math.max(0, t - NOW)
          );
        },
      ),
    );
  });
});

describe("retryAfterFromError", () => {
  it("prefers err.retryAfterMs", () => {
    expect(retryAfterFromError({ retryAfterMs: 1500, headers: { "retry-after": "9" } }, NOW)).toBe(
      1500,
    );
  });

  it("ignores a retryAfterMs that is negative, NaN, infinite or not a number", () => {
    for (const v of [-1, Number.NaN, Number.POSITIVE_INFINITY, "1500"]) {
      expect(retryAfterFromError({ retryAfterMs: v }, NOW)).toBeUndefined();
      expect(retryAfterFromError({ retryAfterMs: v, headers: { "Retry-After": "3" } }, NOW)).toBe(
        3000,
      );
    }
  });

  it("reads a Headers object on err.headers and err.response.headers", () => {
    expect(retryAfterFromError({ headers: new Headers({ "Retry-After": "7" }) }, NOW)).toBe(7000);
    expect(
      retryAfterFromError({ response: { headers: new Headers({ "retry-after": "8" }) } }, NOW),
    ).toBe(8000);
  });

  it("reads a fetch Response thrown as is", () => {
    const res = new Response(null, { status: 429, headers: { "retry-after": "4" } });
    expect(retryAfterFromError(res, NOW)).toBe(4000);
  });

  it("reads plain header objects in any casing, with string, string[] or number values", () => {
    expect(retryAfterFromError({ headers: { "RETRY-AFTER": "2" } }, NOW)).toBe(2000);
    expect(retryAfterFromError({ headers: { "Retry-After": ["junk", "3"] } }, NOW)).toBe(3000);
    expect(retryAfterFromError({ headers: { "retry-after": 5 } }, NOW)).toBe(5000);
    expect(
      retryAfterFromError(
        { response: { headers: { "retry-after": "Sun, 01 Mar 2026 12:00:30 GMT" } } },
        NOW,
      ),
    ).toBe(30_000);
  });

  it("falls back from unusable err.headers to err.response.headers", () => {
    expect(
      retryAfterFromError(
        { headers: { "retry-after": "abc" }, response: { headers: { "retry-after": "6" } } },
        NOW,
      ),
    ).toBe(6000);
  });

  it("gives undefined when there is nothing usable", () => {
    for (const err of [
      undefined,
      null,
      "429",
      42,
      new Error("x"),
      { headers: {} },
      { headers: "retry-after: 5" },
    ]) {
      expect(retryAfterFromError(err, NOW)).toBeUndefined();
    }
  });

  it("never throws on hostile objects", () => {
    const throwing = new Proxy(
      {},
      {
        get() {
          throw new Error("boom");
        },
        ownKeys() {
          throw new Error("boom");
        },
      },
    );
    const badGet = {
      headers: {
        get: () => {
          throw new Error("boom");
        },
        "retry-after": "9",
      },
    };
    expect(retryAfterFromError(throwing, NOW)).toBeUndefined();
    expect(retryAfterFromError({ headers: throwing, response: throwing }, NOW)).toBeUndefined();
    expect(retryAfterFromError(badGet, NOW)).toBe(9000);
    fc.assert(
      fc.property(fc.anything(), (v) => {
        const ms = retryAfterFromError(v, NOW);
        return ms === undefined || (Number.isFinite(ms) && ms >= 0);
      }),
    );
  });
});
