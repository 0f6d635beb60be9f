/**
 * Durations in configuration: milliseconds as numbers, or strings such as `"90s"` or `"1h30m"`.
 * @module
 */
import { MAX_TIMER_DELAY_MS } from "../clock.js";

/** The longest duration a single timer can wait: 2^31−1 ms, about 24.8 days. */
export const MAX_DURATION_MS = MAX_TIMER_DELAY_MS;

/** The cap for rotation intervals and grace periods, whose timers are re-armed in steps: 10 years. */
export const MAX_LONG_DURATION_MS = 10 * 365 * 24 * 3_600_000;

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;
const DIGITS = /^\d+$/;

/** Bounds of one duration field. */
export interface DurationBounds {
  /** Whether 0 is a meaningful value. @default false */
  allowZero?: boolean;
  /** @default MAX_DURATION_MS */
  max?: number;
}

/** The outcome of {@link parseDuration}: the milliseconds, or why the input is not a duration. */
export type DurationResult = { ok: true; ms: number } | { ok: false; message: string };

const FORMAT_HINT =
  'expected milliseconds or a duration such as "500ms", "90s", "5m", "1h30m", "24h" or "30d"';

/**
 * Parses a configured duration. Numbers are milliseconds; strings are a digits-only millisecond
 * count (what `${VAR}` substitution yields) or a sequence of `<number><unit>` parts with units
 * `ms`, `s`, `m`, `h`, `d`. Fractions round to the nearest millisecond. The message never quotes
 * the input.
 */
export function parseDuration(input: unknown, bounds: DurationBounds = {}): DurationResult {
  const max = bounds.max ?? MAX_DURATION_MS;
  let ms: number;
  if (typeof input === "number") {
    if (!Number.isFinite(input))
      return { ok: false, message: `not a finite number: ${FORMAT_HINT}` };
    ms = input;
  } else if (typeof input === "string") {
    if (input.startsWith("-")) return { ok: false, message: "must not be negative" };
    const parsed = parseDurationString(input);
    if (parsed === undefined) return { ok: false, message: `not a duration: ${FORMAT_HINT}` };
    ms = parsed;
  } else {
    return { ok: false, message: `not a duration: ${FORMAT_HINT}` };
  }
  if (ms < 0) return { ok: false, message: "must not be negative" };
  ms = Math.round(ms);
  if (ms === 0 && !bounds.allowZero) return { ok: false, message: "must be greater than 0" };
  if (ms > max) {
    return { ok: false, message: `must be at most ${formatDuration(max)} (${max} ms)` };
  }
  return { ok: true, ms };
}

function parseDurationString(text: string): number | undefined {
  if (DIGITS.test(text)) return Number(text);
  if (text.length === 0 || text.length > 64) return undefined;
  PART.lastIndex = 0;
  let total = 0;
  while (PART.lastIndex < text.length) {
    const match = PART.exec(text);
    if (!match) return undefined;
    total += Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  }
  return Number.isFinite(total) ? total : undefined;
}

/** Renders milliseconds the way the config accepts them, e.g. `24d20h31m23s647ms`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0ms";
  let rest = Math.round(ms);
  let out = "";
  for (const [unit, size] of [
    ["d", UNIT_MS.d],
    ["h", UNIT_MS.h],
    ["m", UNIT_MS.m],
    ["s", UNIT_MS.s],
    ["ms", UNIT_MS.ms],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}
