/**
 * `Retry-After` parsing (RFC 9110 §10.2.3): how long a server asked us to wait.
 *
 * `Retry-After = HTTP-date / delay-seconds`, where `delay-seconds = 1*DIGIT` and `HTTP-date` is one
 * of the three formats of RFC 9110 §5.6.7. Anything else is not a Retry-After: the caller falls back
 * to its own backoff. Nothing here caps the wait; the manager does.
 * @module
 */

/** The largest wait returned, so a huge delay stays a finite, exact number of milliseconds. */
const MAX_WAIT_MS = Number.MAX_SAFE_INTEGER;

// delay-seconds is digits only. It must be tested before any date parsing, because
// `Date.parse("120")` is the year 120 and `Date.parse("2")` is February 2001.
const DELAY_SECONDS = /^\s*\d+\s*$/;

const DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const LONG_DAY = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)";
const MONTH = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})";

// RFC 9110 §5.6.7. Day names are required but not checked against the date, and runs of spaces
// are accepted where the grammar has one SP (asctime pads single-digit days with a space anyway).
/** IMF-fixdate, the preferred format: `Sun, 06 Nov 1994 08:49:37 GMT`. */
const IMF_FIXDATE = new RegExp(
  `^${DAY},\\s+(\\d{1,2})\\s+${MONTH}\\s+(\\d{4})\\s+${TIME}\\s+GMT$`,
  "i",
);
/** Obsolete RFC 850 format: `Sunday, 06-Nov-94 08:49:37 GMT`. */
const RFC850_DATE = new RegExp(
  `^${LONG_DAY},\\s+(\\d{2})-${MONTH}-(\\d{2})\\s+${TIME}\\s+GMT$`,
  "i",
);
/** Obsolete ANSI C asctime() format: `Sun Nov  6 08:49:37 1994`. */
const ASCTIME_DATE = new RegExp(`^${DAY}\\s+${MONTH}\\s+(\\d{1,2})\\s+${TIME}\\s+(\\d{4})$`, "i");

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/**
 * Milliseconds to wait according to a `Retry-After` value (RFC 9110 §10.2.3).
 *
 * - delay-seconds (`"120"`, `" 120 "`) → that many seconds.
 * - an HTTP-date in any of the three formats of RFC 9110 §5.6.7 → the time from `now` until then;
 *   a date in the past → `0`.
 * - anything else (`"-5"`, `"1000abc"`, `"1.5"`, `""`, dates in other formats) → `undefined`.
 *
 * Never returns NaN, a negative number or Infinity; huge values are limited to
 * `Number.MAX_SAFE_INTEGER` and not capped otherwise.
 *
 * @param value The header value.
 * @param now The current time, epoch milliseconds; needed for HTTP-dates.
 * @example parseRetryAfter("120", now) // 120_000
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (typeof value !== "string") return undefined;
  if (DELAY_SECONDS.test(value)) return Math.min(Number(value.trim()) * 1000, MAX_WAIT_MS);
  const at = parseHttpDate(value.trim(), now);
  if (at === undefined || !Number.isFinite(now)) return undefined;
  return Math.min(Math.max(0, at - now), MAX_WAIT_MS);
}

/**
 * An HTTP-date (RFC 9110 §5.6.7) as epoch milliseconds, or `undefined` when `value` is not one.
 * `now` resolves the two-digit year of the RFC 850 format.
 */
export function parseHttpDate(value: string, now: number): number | undefined {
  let m = IMF_FIXDATE.exec(value);
  if (m) return utc(Number(m[3]), m[2], Number(m[1]), m[4], m[5], m[6]);
  m = RFC850_DATE.exec(value);
  if (m) return utc(fullYear(Number(m[3]), now), m[2], Number(m[1]), m[4], m[5], m[6]);
  m = ASCTIME_DATE.exec(value);
  if (m) return utc(Number(m[6]), m[1], Number(m[2]), m[3], m[4], m[5]);
  return undefined;
}

/**
 * RFC 9110 §5.6.7: a two-digit year that appears to be more than 50 years in the future is the
 * most recent past year with the same last two digits.
 */
function fullYear(yy: number, now: number): number {
  const current = Number.isFinite(now) ? new Date(now).getUTCFullYear() : 1970;
  let year = current - (current % 100) + yy;
  if (year > current + 50) year -= 100;
  return year;
}

function utc(
  year: number,
  monthName: string | undefined,
  day: number,
  hh: string | undefined,
  mm: string | undefined,
  ss: string | undefined,
): number | undefined {
  const month = MONTHS.indexOf((monthName ?? "").toLowerCase());
  const hour = Number(hh);
  const minute = Number(mm);
  // 60 allows a leap second, as the IMF grammar does.
  const second = Number(ss);
  if (month < 0 || hour > 23 || minute > 59 || second > 60) return undefined;
  if (day < 1 || day > daysInMonth(year, month)) return undefined;
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0..99 to 1900..1999.
  const d = new Date(0);
  d.setUTCFullYear(year, month, day);
  d.setUTCHours(hour, minute, second, 0);
  const t = d.getTime();
  return Number.isFinite(t) ? t : undefined;
}

function daysInMonth(year: number, month: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month + 1, 0);
  return d.getUTCDate();
}

/**
 * The wait an error asks for, in milliseconds: its `retryAfterMs` (a finite number ≥ 0), else a
 * `retry-after` header on `err.headers` or `err.response.headers`. Headers may be a `Headers`-like
 * object with `get`, or a plain object with the key in any casing and a string, string[] or
 * number (seconds) value. Never throws, whatever `err` is.
 *
 * @param err Anything an operation threw.
 * @param now The current time, epoch milliseconds; needed for HTTP-dates.
 */
export function retryAfterFromError(err: unknown, now: number): number | undefined {
  try {
    if (!isObject(err)) return undefined;
    const direct = safeGet(err, "retryAfterMs");
    if (typeof direct === "number" && Number.isFinite(direct) && direct >= 0) {
      return Math.min(direct, MAX_WAIT_MS);
    }
    const response = safeGet(err, "response");
    for (const headers of [
      safeGet(err, "headers"),
      isObject(response) ? safeGet(response, "headers") : undefined,
    ]) {
      const ms = fromHeaderValue(readRetryAfterHeader(headers), now);
      if (ms !== undefined) return ms;
    }
    return undefined;
  } catch {
    return undefined;
  }
}

function fromHeaderValue(value: unknown, now: number): number | undefined {
  if (typeof value === "string") return parseRetryAfter(value, now);
  if (typeof value === "number") {
    // Some clients hand headers over already converted; a number can only be delay-seconds.
    return Number.isFinite(value) && value >= 0 ? Math.min(value * 1000, MAX_WAIT_MS) : undefined;
  }
  if (Array.isArray(value)) {
    // A repeated singleton field: take the first value that is a valid Retry-After.
    for (const v of value.slice(0, 16)) {
      const ms = typeof v === "string" ? parseRetryAfter(v, now) : undefined;
      if (ms !== undefined) return ms;
    }
  }
  return undefined;
}

function readRetryAfterHeader(headers: unknown): unknown {
  if (!isObject(headers)) return undefined;
  const get = safeGet(headers, "get");
  if (typeof get === "function") {
    try {
      const v: unknown = get.call(headers, "retry-after");
      if (v !== undefined && v !== null) return v;
    } catch {
      // Not a real Headers object; fall through to reading it as a plain one.
    }
  }
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() === "retry-after") return safeGet(headers, key);
  }
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return (typeof v === "object" && v !== null) || typeof v === "function";
}

function safeGet(obj: object, key: string): unknown {
  try {
    return (obj as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}
