/**
 * How a provider wants its token presented on a request: one place for every consumer of the
 * pool (the SDKs' `fetch`, the gateway) so they all send it the same way.
 * @module
 */
import { describe } from "../describe.js";

/**
 * How a token goes on the wire.
 * - `"bearer"`: `Authorization: Bearer <token>` (OpenAI, OAuth access tokens of every provider).
 * - `"x-api-key"`: `x-api-key: <token>` (Anthropic API keys).
 * - `"x-goog-api-key"`: `x-goog-api-key: <token>` (Gemini API keys).
 * - `{ header, template }`: any other header; `{token}` in `template` is replaced by the token,
 *   e.g. `{ header: "api-key", template: "{token}" }` for Azure OpenAI.
 */
export type AuthStyle =
  | "bearer"
  | "x-api-key"
  | "x-goog-api-key"
  | {
      /** The header's name; an HTTP token (letters, digits, `-` and the like). */
      header: string;
      /** The header's value, with `{token}` where the token goes. */
      template: string;
    };

/** The headers that may carry a credential, whatever the style: a caller's own copies are dropped. */
export const CREDENTIAL_HEADERS: readonly string[] = [
  "authorization",
  "x-api-key",
  "x-goog-api-key",
];

const PLACEHOLDER = "{token}";
/** RFC 9110 §5.1: a field name is a token. */
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A CR or LF would end the header line and let the value inject headers of its own. */
const LINE_BREAK = /[\r\n\0]/;

/** A checked style: the header's name (lower case) and how to build its value. */
export interface ResolvedAuth {
  readonly header: string;
  value(token: string): string;
}

/**
 * Checks `style` once and returns how to present a token with it.
 * @throws {TypeError} when `style` is none of the {@link AuthStyle} forms
 */
export function resolveAuthStyle(style: AuthStyle): ResolvedAuth {
  switch (style) {
    case "bearer":
      return { header: "authorization", value: (token) => `Bearer ${token}` };
    case "x-api-key":
    case "x-goog-api-key":
      return { header: style, value: (token) => token };
  }
  if (typeof style !== "object" || style === null) {
    throw new TypeError(
      `Expected \`auth\` to be "bearer", "x-api-key", "x-goog-api-key" or { header, template }, got ${describe(style)}`,
    );
  }
  const { header, template } = style;
  if (typeof header !== "string" || !FIELD_NAME.test(header)) {
    throw new TypeError(
      `Expected \`auth.header\` to be an HTTP header name (letters, digits and !#$%&'*+-.^_\`|~), got ${describe(header)}`,
    );
  }
  if (typeof template !== "string" || !template.includes(PLACEHOLDER)) {
    throw new TypeError(
      `Expected \`auth.template\` to be a string containing "{token}", got ${describe(template)}`,
    );
  }
  if (LINE_BREAK.test(template)) {
    throw new TypeError("Expected `auth.template` to contain no CR, LF or NUL, got one");
  }
  return {
    header: header.toLowerCase(),
    value: (token) => template.replaceAll(PLACEHOLDER, token),
  };
}

/**
 * The headers that present `token` the way `style` says (header names in lower case).
 *
 * @throws {TypeError} for an unknown style, an empty token, or a token or template with a CR, LF
 *   or NUL in it (which would let it add headers of its own). The token is never quoted.
 * @example
 * authHeaders("bearer", token) // { authorization: "Bearer …" }
 * authHeaders({ header: "api-key", template: "{token}" }, token) // { "api-key": "…" }
 */
export function authHeaders(style: AuthStyle, token: string): Record<string, string> {
  const auth = resolveAuthStyle(style);
  return { [auth.header]: auth.value(checkedToken(token)) };
}

/**
 * `token` if it can go in a header value as it is.
 * @throws {TypeError} otherwise, without quoting it
 */
export function checkedToken(token: string): string {
  if (typeof token !== "string" || token === "") {
    throw new TypeError(`Expected \`token\` to be a non-empty string, got ${describe(token)}`);
  }
  if (LINE_BREAK.test(token)) {
    throw new TypeError("Expected `token` to contain no CR, LF or NUL, got a string with one");
  }
  return token;
}
