/**
 * The refresh grant's request (RFC 6749 §6): the body as a form or as JSON, and the client
 * authenticated in the body or with HTTP Basic (§2.3.1).
 * @module
 */

/** How the client proves who it is: `client_id`/`client_secret` in the body, or HTTP Basic. */
export type ClientAuth = "body" | "basic";
/** How the body is encoded: `application/x-www-form-urlencoded` (the standard) or JSON. */
export type BodyFormat = "form" | "json";

/** The client a refresh is sent for; either part may be missing (a public client has no secret). */
export interface ClientCredentials {
  id: string | undefined;
  secret: string | undefined;
}

/** Everything the request is made of, already validated. */
export interface RefreshRequestParts {
  clientAuth: ClientAuth;
  bodyFormat: BodyFormat;
  scope: string | undefined;
  extraParams: Readonly<Record<string, string>>;
  headers: Readonly<Record<string, string>>;
}

/** Body fields the grant itself sets; `extraParams` may not replace them. */
export const RESERVED_PARAMS: readonly string[] = [
  "grant_type",
  "refresh_token",
  "client_id",
  "client_secret",
  "scope",
];

/** The headers and body of one refresh request. */
export function refreshRequest(
  parts: RefreshRequestParts,
  client: ClientCredentials,
  refreshToken: string,
): { headers: Headers; body: string } {
  const fields: Record<string, string> = {
    grant_type: "refresh_token",
    refresh_token: refreshToken,
  };
  const headers = new Headers(parts.headers);
  if (!headers.has("accept")) headers.set("accept", "application/json");
  if (parts.clientAuth === "basic") {
    headers.set("authorization", basicCredentials(client.id ?? "", client.secret ?? ""));
  } else {
    if (client.id !== undefined) fields.client_id = client.id;
    if (client.secret !== undefined) fields.client_secret = client.secret;
  }
  if (parts.scope !== undefined) fields.scope = parts.scope;
  Object.assign(fields, parts.extraParams);
  if (parts.bodyFormat === "json") {
    headers.set("content-type", "application/json");
    return { headers, body: JSON.stringify(fields) };
  }
  headers.set("content-type", "application/x-www-form-urlencoded");
  return { headers, body: new URLSearchParams(fields).toString() };
}

/**
 * `Basic base64(id:secret)` with both parts form-urlencoded first, as RFC 6749 §2.3.1 requires:
 * a `:` in a client id would otherwise split it in the wrong place, and servers that follow the
 * RFC decode the parts before comparing them.
 */
export function basicCredentials(id: string, secret: string): string {
  const pair = `${formUrlEncode(id)}:${formUrlEncode(secret)}`;
  return `Basic ${Buffer.from(pair, "utf8").toString("base64")}`;
}

/**
 * `application/x-www-form-urlencoded` encoding of one value, as WHATWG forms do it: `-`, `.`,
 * `_` and `*` stay as they are. A server that decodes (as the RFC asks) reads the same value as
 * from the stricter HTML 4 encoding, and one that compares the raw text still matches the usual
 * client ids (`123-abc.apps.googleusercontent.com`), which the stricter form would break.
 */
function formUrlEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}
