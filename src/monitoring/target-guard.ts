/**
 * SSRF guard for webhook targets, so that alerts cannot be aimed at internal services: resolve the
 * host once, refuse internal addresses, and hand back the address to connect to, so DNS rebinding cannot swap it afterwards.
 * @module
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import { ConfigError } from "../errors.js";

/** A resolved address, as `dns.promises.lookup(host, { all: true })` returns them. */
export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves a host name to all its addresses; `dns.promises.lookup` fits. */
export type LookupFn = (
  hostname: string,
  options: { all: true },
) => Promise<readonly ResolvedAddress[]>;

/** Options of {@link checkWebhookTarget}. */
export interface TargetGuardOptions {
  /** Allow loopback, private and link-local targets (tests, internal receivers). */
  allowPrivate: boolean;
  /** @default dns.promises.lookup */
  lookup?: LookupFn;
}

/** Where to connect: the pinned address, and the name to send as `Host` and TLS `servername`. */
export interface WebhookTarget {
  address: string;
  family: 4 | 6;
  /** The URL's hostname without brackets; what `Host`, SNI and certificate checks use. */
  hostname: string;
}

// IPv4 ranges no webhook should reach: "this network", private, CGNAT, loopback, link-local
// (with the 169.254.169.254 metadata service), IETF/documentation/benchmark nets, multicast,
// reserved and broadcast.
const V4 = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  V4.addSubnet(net, prefix, "ipv4");
}

// Checked only against IPv6 addresses: Node's BlockList matches IPv4 addresses against
// ::ffff:0:0/96, so this list must never see one.
const V6 = new BlockList();
for (const [net, prefix] of [
  ["::", 96], // unspecified, ::1 and the deprecated IPv4-compatible form
  ["::ffff:0:0", 96], // IPv4-mapped: refused whatever the embedded address
  ["64:ff9b:1::", 48], // local-use NAT64
  ["100::", 64], // discard
  ["2001:db8::", 32], // documentation
  ["2002::", 16], // 6to4, embeds an IPv4 address
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["fec0::", 10], // deprecated site-local
  ["ff00::", 8], // multicast
] as const) {
  V6.addSubnet(net, prefix, "ipv6");
}
const NAT64 = new BlockList();
NAT64.addSubnet("64:ff9b::", 96, "ipv6");

/**
 * True when `ip` (an IPv4 or IPv6 address, brackets and zone allowed) is loopback, private,
 * link-local, unique-local, IPv4-mapped or otherwise not a public unicast address. A string that
 * is not an IP address is blocked too.
 */
export function isBlockedAddress(ip: string): boolean {
  const addr = stripBrackets(ip).split("%")[0] ?? "";
  const family = isIP(addr);
  if (family === 4) return V4.check(addr, "ipv4");
  if (family !== 6) return true;
  if (V6.check(addr, "ipv6")) return true;
  if (NAT64.check(addr, "ipv6")) {
    // The well-known NAT64 prefix reaches whatever IPv4 address it embeds.
    const v4 = nat64Embedded(addr);
    return v4 === undefined || V4.check(v4, "ipv4");
  }
  return false;
}

/**
 * The IP address a URL's host names literally, or `undefined` for a host name. The WHATWG URL
 * parser has already turned decimal, hex and octal IPv4 forms (`http://2130706433/`,
 * `http://0x7f000001/`, `http://0177.0.0.1/`) into dotted quads.
 */
export function literalAddress(url: URL): string | undefined {
  const host = stripBrackets(url.hostname);
  return isIP(host) !== 0 ? host : undefined;
}

/**
 * Decides where a webhook request may connect. A literal address is checked as is; a host name
 * is resolved (all its addresses) and refused when any of them is internal, so a name that
 * resolves to both a public and a private address cannot be used to reach the private one.
 *
 * @returns The address to connect to (the first one resolved): connect to it and send the URL's
 *   host as `Host` (and TLS `servername`), never resolve the name again.
 * @throws {ConfigError} (path `webhookUrl`) when the target is refused; the message names the
 *   refused address, never the URL. DNS errors are rethrown as they are.
 */
export async function checkWebhookTarget(
  url: URL,
  opts: TargetGuardOptions,
): Promise<WebhookTarget> {
  const hostname = stripBrackets(url.hostname);
  const literal = literalAddress(url);
  let addresses: readonly ResolvedAddress[];
  if (literal !== undefined) {
    addresses = [{ address: literal, family: isIP(literal) }];
  } else {
    const lookup: LookupFn = opts.lookup ?? dnsLookup;
    addresses = await lookup(hostname, { all: true });
  }
  const first = addresses[0];
  if (first === undefined) {
    throw new ConfigError([{ path: "webhookUrl", message: "the host resolves to no address" }]);
  }
  if (!opts.allowPrivate) {
    const refused = addresses.find((a) => isBlockedAddress(a.address));
    if (refused) {
      throw new ConfigError([
        {
          path: "webhookUrl",
          message: `the host resolves to ${refused.address}, a loopback, private or link-local address; set allowPrivateWebhookTargets to allow it`,
        },
      ]);
    }
  }
  const family = isIP(first.address);
  if (family !== 4 && family !== 6) {
    throw new ConfigError([{ path: "webhookUrl", message: "the host resolves to no IP address" }]);
  }
  return { address: first.address, family, hostname };
}

function stripBrackets(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** The IPv4 address in the last 32 bits of a 64:ff9b::/96 address, as the URL parser prints it. */
function nat64Embedded(addr: string): string | undefined {
  let canonical: string;
  try {
    canonical = stripBrackets(new URL(`http://[${addr}]/`).hostname);
  } catch {
    return undefined;
  }
  const tail = canonical.split("::")[1];
  if (tail === undefined) return undefined;
  const groups = tail.split(":").filter((g) => g !== "");
  while (groups.length < 2) groups.unshift("0");
  if (groups.length !== 2) return undefined;
  const hi = Number.parseInt(groups[0] ?? "", 16);
  const lo = Number.parseInt(groups[1] ?? "", 16);
  if (!Number.isInteger(hi) || !Number.isInteger(lo)) return undefined;
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}
