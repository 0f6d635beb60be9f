import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.js";
import { checkWebhookTarget, isBlockedAddress, type LookupFn } from "./target-guard.js";

/** Fails the test if DNS is consulted for a literal address. */
const noLookup: LookupFn = async (host) => {
  throw new Error(`unexpected lookup of ${host}`);
};

const fakeDns: Record<string, string[]> = {
  "public.test": ["93.184.216.34"],
  "public6.test": ["2606:2800:220:1:248:1893:25c8:1946"],
  "metadata.test": ["169.254.169.254"],
  "localhost.test": ["127.0.0.1"],
  "rebind.test": ["93.184.216.34", "10.0.0.1"],
  "mapped.test": ["::ffff:127.0.0.1"],
  "empty.test": [],
};

const lookup: LookupFn = async (host) => {
  const list = fakeDns[host];
  if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
  return list.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
};

describe("checkWebhookTarget", () => {
  const refusedLiterals = [
    "http://127.0.0.1/hook",
    "http://10.0.0.1/hook",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:93.184.216.34]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[64:ff9b::a00:1]/", // NAT64 of 10.0.0.1
    "http://2130706433/", // decimal 127.0.0.1
    "http://0x7f000001/", // hex
    "http://0177.0.0.1/", // octal
    "http://127.1/", // short form
    "https://0xa9.0xfe.0xa9.0xfe/", // hex dotted 169.254.169.254
  ];

  it.each(refusedLiterals)("refuses %s", async (url) => {
    await expect(
      checkWebhookTarget(new URL(url), { allowPrivate: false, lookup: noLookup }),
    ).rejects.toBeInstanceOf(ConfigError);
  });

  it.each(refusedLiterals)("allows %s with allowPrivate", async (url) => {
    const target = await checkWebhookTarget(new URL(url), { allowPrivate: true, lookup: noLookup });
    expect([4, 6]).toContain(target.family);
  });

  it("normalises decimal, hex and octal IPv4 forms through the WHATWG URL parser", () => {
    for (const url of ["http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/"]) {
      expect(new URL(url).hostname).toBe("127.0.0.1");
    }
  });

  it("allows a public literal address without DNS", async () => {
    await expect(
      checkWebhookTarget(new URL("https://93.184.216.34/hook"), {
        allowPrivate: false,
        lookup: noLookup,
      }),
    ).resolves.toEqual({ address: "93.184.216.34", family: 4, hostname: "93.184.216.34" });
    await expect(
      checkWebhookTarget(new URL("http://[2606:4700::1111]/"), {
        allowPrivate: false,
        lookup: noLookup,
      }),
    ).resolves.toMatchObject({ address: "2606:4700::1111", family: 6 });
  });

  it("resolves a host name and returns the address to pin", async () => {
    await expect(
      checkWebhookTarget(new URL("https://public.test/x"), { allowPrivate: false, lookup }),
    ).resolves.toEqual({ address: "93.184.216.34", family: 4, hostname: "public.test" });
    await expect(
      checkWebhookTarget(new URL("https://public6.test/x"), { allowPrivate: false, lookup }),
    ).resolves.toMatchObject({ family: 6, hostname: "public6.test" });
  });

  it.each(["metadata.test", "localhost.test", "rebind.test", "mapped.test"])(
    "refuses %s, which resolves to an internal address",
    async (host) => {
      const err = await checkWebhookTarget(new URL(`https://${host}/x?token=CANARY`), {
        allowPrivate: false,
        lookup,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues[0]?.path).toBe("webhookUrl");
      expect((err as Error).message).not.toContain("CANARY");
    },
  );

  it("allows internal names with allowPrivate", async () => {
    await expect(
      checkWebhookTarget(new URL("http://metadata.test/"), { allowPrivate: true, lookup }),
    ).resolves.toMatchObject({ address: "169.254.169.254" });
  });

  it("rethrows DNS errors and refuses a name with no address", async () => {
    await expect(
      checkWebhookTarget(new URL("http://missing.test/"), { allowPrivate: false, lookup }),
    ).rejects.toMatchObject({ code: "ENOTFOUND" });
    await expect(
      checkWebhookTarget(new URL("http://empty.test/"), { allowPrivate: false, lookup }),
    ).rejects.toBeInstanceOf(ConfigError);
  });
});

describe("isBlockedAddress", () => {
  it.each([
    ["8.8.8.8", false],
    ["93.184.216.34", false],
    ["172.15.255.255", false],
    ["172.16.0.0", true],
    ["172.31.255.255", true],
    ["172.32.0.0", false],
    ["100.63.255.255", false],
    ["100.64.0.0", true],
    ["100.127.255.255", true],
    ["169.254.169.254", true],
    ["0.1.2.3", true],
    ["224.0.0.1", true],
    ["255.255.255.255", true],
    ["2606:4700::1111", false],
    ["::1", true],
    ["[::1]", true],
    ["::", true],
    ["fe80::1", true],
    ["febf::1", true],
    ["fc00::1", true],
    ["fdff::1", true],
    ["ff02::1", true],
    ["::ffff:8.8.8.8", true],
    ["64:ff9b::808:808", false], // NAT64 of 8.8.8.8
    ["64:ff9b::7f00:1", true], // NAT64 of 127.0.0.1
    ["not-an-ip", true],
  ] as const)("%s → %s", (ip, blocked) => {
    expect(isBlockedAddress(ip)).toBe(blocked);
  });
});
