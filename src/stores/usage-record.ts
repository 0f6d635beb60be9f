/**
 * The usage record stored beside a credential's token: its usage-budget counters per window, so
 * that a restart (or another process on the same store) goes on counting where they stood.
 * @module
 */
import type { StoredUsage } from "./types.js";

/** The windows a usage record may hold. */
export const USAGE_WINDOWS: readonly StoredUsage["window"][] = ["hour", "day", "month"];

/** Why `value` is not a usage record list, or undefined when it is one. */
export function usageIssue(value: unknown): string | undefined {
  if (!Array.isArray(value)) return "an array of usage records";
  for (const u of value) {
    if (typeof u !== "object" || u === null) return "an array of usage records";
    const r = u as Record<string, unknown>;
    if (!USAGE_WINDOWS.includes(r.window as StoredUsage["window"])) {
      return `usage records whose window is one of ${USAGE_WINDOWS.join(", ")}`;
    }
    if (!(r.start instanceof Date) || Number.isNaN(r.start.getTime())) {
      return "usage records whose start is a valid Date";
    }
    for (const key of ["tokens", "cost"]) {
      const n = r[key];
      if (typeof n !== "number" || !Number.isFinite(n) || n < 0) {
        return `usage records whose ${key} is a finite number >= 0`;
      }
    }
  }
  return undefined;
}

/** A deep copy with fresh Dates. */
export function copyUsage(usage: readonly StoredUsage[]): StoredUsage[] {
  return usage.map((u) => ({
    window: u.window,
    start: new Date(u.start.getTime()),
    tokens: u.tokens,
    cost: u.cost,
  }));
}
