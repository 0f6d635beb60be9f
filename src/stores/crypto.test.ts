import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.js";
import { decrypt, encrypt, parseEncryptionKey } from "./crypto.js";

describe("parseEncryptionKey", () => {
  const raw = randomBytes(32);

  it("accepts 32 raw bytes, 64 hex digits, and base64 or base64url of 32 bytes", () => {
    const expected = raw.toString("hex");
    for (const input of [
      new Uint8Array(raw),
      raw.toString("hex"),
      raw.toString("hex").toUpperCase(),
      raw.toString("base64"),
      raw.toString("base64").replace(/=$/, ""),
      raw.toString("base64url"),
      ` ${raw.toString("base64")}\n`,
    ]) {
      const key = parseEncryptionKey(input, "encryptionKey");
      expect(key.export().toString("hex")).toBe(expected);
    }
  });

  it("rejects other lengths and encodings with a ConfigError that does not echo the key", () => {
    const canary = "c2VjcmV0LWNhbmFyeS1rZXktdmFsdWU="; // base64 of 22 bytes
    for (const input of [
      canary,
      randomBytes(16).toString("hex"),
      randomBytes(33).toString("base64"),
      "not a key at all, just a passphrase!",
      new Uint8Array(16),
      42,
      null,
    ]) {
      let err: unknown;
      try {
        parseEncryptionKey(input, "OAUTHMANAGER_ENCRYPTION_KEY");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      const cfg = err as ConfigError;
      expect(cfg.issues[0]?.path).toBe("OAUTHMANAGER_ENCRYPTION_KEY");
      expect(cfg.message).toMatch(/32 bytes/);
      if (typeof input === "string")
        expect(JSON.stringify(cfg.issues) + cfg.message).not.toContain(input);
    }
  });
});

describe("encrypt / decrypt", () => {
  const key = parseEncryptionKey(randomBytes(32), "k");

  it("round-trips and uses a fresh 96-bit IV on every call", () => {
    const a = encrypt("hello", key);
    const b = encrypt("hello", key);
    expect(Buffer.from(a.iv, "base64")).toHaveLength(12);
    expect(Buffer.from(a.tag, "base64")).toHaveLength(16);
    expect(a.iv).not.toBe(b.iv);
    expect(a.data).not.toBe(b.data);
    expect(decrypt(a, key)).toBe("hello");
  });

  it("returns undefined for a wrong key, a flipped bit, a bad tag or IV", () => {
    const payload = encrypt("secret payload", key);
    expect(decrypt(payload, parseEncryptionKey(randomBytes(32), "k"))).toBeUndefined();
    const data = Buffer.from(payload.data, "base64");
    data[0] = (data[0] ?? 0) ^ 1;
    expect(decrypt({ ...payload, data: data.toString("base64") }, key)).toBeUndefined();
    expect(decrypt({ ...payload, tag: Buffer.alloc(16).toString("base64") }, key)).toBeUndefined();
    expect(decrypt({ ...payload, tag: "" }, key)).toBeUndefined();
    expect(decrypt({ ...payload, iv: Buffer.alloc(8).toString("base64") }, key)).toBeUndefined();
  });
});
