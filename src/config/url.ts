/**
 * URL checks for configuration. Messages never quote the URL: it may carry a password.
 * @module
 */
import { BlockList, isIP } from "node:net";

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

const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  PRIVATE.addSubnet(net, prefix, "ipv4");
}
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const) {
  PRIVATE.addSubnet(net, prefix, "ipv6");
}

/**
 * Whether a URL's host is, literally, a loopback, private, link-local or otherwise internal
 * address (`localhost` included). Names are not resolved here: the webhook sender checks the
 * resolved address again when it connects.
 */
export function isPrivateHost(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const family = isIP(host);
  if (family === 4) return PRIVATE.check(host, "ipv4");
  if (family === 6) {
    // IPv4-mapped addresses (::ffff:a.b.c.d) reach the IPv4 host; the URL parser writes them in hex.
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
    if (mapped) {
      const hi = Number.parseInt(mapped[1]!, 16);
      const lo = Number.parseInt(mapped[2]!, 16);
      const v4 = `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
      return PRIVATE.check(v4, "ipv4");
    }
    return PRIVATE.check(host, "ipv6");
  }
  return false;
}
