/**
 * URL checks for configuration. Messages never quote the URL: it may carry a password.
 * @module
 */
import { isBlockedAddress, literalAddress } from "../monitoring/target-guard.js";

/** The result of a URL check. */
export type UrlResult = { ok: true; url: URL } | { ok: false; message: string };

/** Parses an absolute URL whose scheme is one of `protocols`, rejecting userinfo unless allowed. */
export function checkUrl(
  value: string,
  protocols: readonly string[],
  options: { allowUserinfo?: boolean } = {},
): UrlResult {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, message: "not a valid absolute URL" };
  }
  if (!protocols.includes(url.protocol)) {
    const list = protocols.map((p) => `${p}//`).join(" or ");
    return { ok: false, message: `must be a ${list} URL` };
  }
  if (!options.allowUserinfo && (url.username !== "" || url.password !== "")) {
    return { ok: false, message: "must not contain a user name or password" };
  }
  if (url.hostname === "") return { ok: false, message: "must name a host" };
  return { ok: true, url };
}

/**
 * Whether a URL's host is, literally, a loopback, private, link-local or otherwise internal
 * address (`localhost` included), by the same rules the webhook sender applies when it connects.
 * Names are not resolved here: the sender checks the resolved address again.
 */
export function isPrivateHost(url: URL): boolean {
  const host = url.hostname.toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const literal = literalAddress(url);
  return literal !== undefined && isBlockedAddress(literal);
}
