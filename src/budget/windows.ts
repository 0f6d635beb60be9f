/**
 * Budget windows on the UTC calendar: where the window holding a moment begins and ends.
 * @module
 */
import type { BudgetWindow } from "./options.js";

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** The bounds (epoch ms, end exclusive) of the `window` holding `now`. */
export function windowBounds(window: BudgetWindow, now: number): { start: number; end: number } {
  switch (window) {
    case "hour": {
      const start = Math.floor(now / HOUR_MS) * HOUR_MS;
      return { start, end: start + HOUR_MS };
    }
    case "day": {
      const start = Math.floor(now / DAY_MS) * DAY_MS;
      return { start, end: start + DAY_MS };
    }
    case "month": {
      const d = new Date(now);
      const year = d.getUTCFullYear();
      const month = d.getUTCMonth();
      return { start: Date.UTC(year, month, 1), end: Date.UTC(year, month + 1, 1) };
    }
  }
}
