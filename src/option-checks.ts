/**
 * Checks of numeric option values, with one wording for every option: the name as the caller
 * wrote it (with its path, as in `budgets.prices.m.input`) and the value it gave.
 * @module
 */
import { describeSetting } from "./describe.js";

/** @throws {TypeError} unless `value` is a finite number >= 0 */
export function nonNegative(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new TypeError(
      `Expected \`${name}\` to be a finite number >= 0, got ${describeSetting(value)}`,
    );
  }
  return value;
}

/** @throws {TypeError} unless `value` is a finite number > 0 */
export function positiveNumber(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(
      `Expected \`${name}\` to be a finite number > 0, got ${describeSetting(value)}`,
    );
  }
  return value;
}

/** @throws {TypeError} unless `value` is an integer >= 1 */
export function positiveInt(value: unknown, name: string): number {
  if (!Number.isInteger(value) || (value as number) < 1) {
    throw new TypeError(
      `Expected \`${name}\` to be an integer >= 1, got ${describeSetting(value)}`,
    );
  }
  return value as number;
}
