/**
 * Rotation policy: when a credential is due for replacement, and when a replaced one goes.
 * @module
 */
import type { RotationPolicy } from "../types.js";

const DAY = 86_400_000;

/** Disabled; 30-day interval, 7-day grace period, automatic decommission. A fresh object each call. */
export function defaultRotationPolicy(): RotationPolicy {
  return {
    enabled: false,
    rotationInterval: 30 * DAY,
    gracePeriod: 7 * DAY,
    autoDecommission: true,
  };
}

/**
 * Checks a policy and returns a copy.
 * @throws {TypeError} for a field of the wrong type, a negative or non-finite duration
 */
export function validateRotationPolicy(policy: unknown): RotationPolicy {
  if (typeof policy !== "object" || policy === null) {
    throw new TypeError(
      `Expected \`rotationPolicy\` to be an object, got ${policy === null ? "null" : typeof policy}`,
    );
  }
  const p = policy as Record<string, unknown>;
  for (const key of ["enabled", "autoDecommission"] as const) {
    if (typeof p[key] !== "boolean") {
      throw new TypeError(
        `Expected \`rotationPolicy.${key}\` to be a boolean, got ${typeof p[key]}`,
      );
    }
  }
  for (const key of ["rotationInterval", "gracePeriod"] as const) {
    const v = p[key];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new TypeError(
        `Expected \`rotationPolicy.${key}\` to be milliseconds >= 0, got ${typeof v === "number" ? v : typeof v}`,
      );
    }
  }
  for (const key of ["onRotationNeeded", "onDecommission"] as const) {
    if (p[key] !== undefined && typeof p[key] !== "function") {
      throw new TypeError(
        `Expected \`rotationPolicy.${key}\` to be a function, got ${typeof p[key]}`,
      );
    }
  }
  return { ...(policy as RotationPolicy) };
}

/** RFC 3339 without fractions: a time in a message reads as a time, not as a measurement. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
