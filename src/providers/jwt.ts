/**
 * Reading the claims of a JWT without verifying it. Only for facts the token's own issuer handed
 * us over TLS (an account id, an expiry), never for deciding whom to trust.
 * @module
 */
import { parseRecord } from "../describe.js";

/**
 * The payload of a compact JWT (`header.payload.signature`) as an object, or `undefined` when
 * `token` is not one. Nothing is verified; the result must not be used to authenticate anyone.
 */
export function jwtClaims(token: unknown): Record<string, unknown> | undefined {
  if (typeof token !== "string") return undefined;
  const parts = token.split(".");
  if (parts.length !== 3 || parts.some((part) => part === "")) return undefined;
  const payload = parts[1] as string;
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(payload)) return undefined;
  return parseRecord(Buffer.from(payload, "base64url").toString("utf8"));
}

/** The `exp` claim as a Date (JWT times are seconds since the epoch), when it is a usable one. */
export function jwtExpiry(token: unknown): Date | undefined {
  const exp = jwtClaims(token)?.exp;
  if (typeof exp !== "number" || !Number.isFinite(exp) || exp <= 0) return undefined;
  const date = new Date(exp * 1000);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
