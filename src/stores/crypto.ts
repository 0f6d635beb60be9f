/**
 * Encryption at rest for the file store: AES-256-GCM, a fresh random 96-bit IV on every write,
 * the 128-bit tag checked on every read, so a changed file is refused. The key is held as a `KeyObject`, so
 * inspecting or logging a store never prints it.
 * @module
 */
import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { ConfigError } from "../errors.js";

/** The environment variable read when no `encryptionKey` option is given. */
export const ENCRYPTION_KEY_ENV = "OAUTHMANAGER_ENCRYPTION_KEY";

/** The only algorithm written and accepted, as named in JWA (RFC 7518 §5.3). */
export const ENCRYPTION_ALG = "A256GCM";

/** How an encrypted file holds its payload. Every field is base64. */
export interface EncryptedPayload {
  alg: typeof ENCRYPTION_ALG;
  /** 12 random bytes, new on every write. */
  iv: string;
  /** The 16-byte GCM authentication tag. */
  tag: string;
  /** The ciphertext of the plain document. */
  data: string;
}

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Binds the ciphertext to this format, so it cannot be replayed as something else. */
const AAD = Buffer.from("oauthmanager/file-token-store/v1");
const HEX_KEY = /^[0-9a-fA-F]{64}$/;
// 32 bytes: 43 base64 characters and one "=" of padding (optional), standard or URL alphabet.
const BASE64_KEY = /^[A-Za-z0-9+/]{43}=?$|^[A-Za-z0-9_-]{43}=?$/;

/**
 * Turns an `encryptionKey` option or environment value into a key: 32 raw bytes, or a string
 * holding 32 bytes as 64 hex digits or as base64 (standard or URL-safe, padding optional).
 * @param source what to name in the error, e.g. `encryptionKey` or `OAUTHMANAGER_ENCRYPTION_KEY`.
 * @throws {ConfigError} for anything else; the message never quotes the value.
 */
export function parseEncryptionKey(value: unknown, source: string): KeyObject {
  const bytes = decodeKey(value);
  if (bytes) return createSecretKey(bytes);
  const got =
    value instanceof Uint8Array
      ? `${value.length} bytes`
      : typeof value === "string"
        ? `a string of ${value.length} characters that is not 32 bytes in hex or base64`
        : `a value of type ${value === null ? "null" : typeof value}`;
  throw new ConfigError([
    {
      path: source,
      message: `expected an AES-256 key: 32 bytes as a Uint8Array, or 32 bytes as 64 hex digits or base64; got ${got}`,
    },
  ]);
}

function decodeKey(value: unknown): Buffer | undefined {
  if (value instanceof Uint8Array) {
    return value.length === KEY_BYTES ? Buffer.from(value) : undefined;
  }
  if (typeof value !== "string") return undefined;
  const s = value.trim();
  if (HEX_KEY.test(s)) return Buffer.from(s, "hex");
  if (BASE64_KEY.test(s)) {
    const bytes = Buffer.from(s, s.includes("-") || s.includes("_") ? "base64url" : "base64");
    return bytes.length === KEY_BYTES ? bytes : undefined;
  }
  return undefined;
}

/** Encrypts `plaintext` with a new random IV. */
export function encrypt(plaintext: string, key: KeyObject): EncryptedPayload {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(AAD);
  const data = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return {
    alg: ENCRYPTION_ALG,
    iv: iv.toString("base64"),
    tag: cipher.getAuthTag().toString("base64"),
    data: data.toString("base64"),
  };
}

/**
 * The plaintext, or undefined when the tag does not verify: a wrong key and a tampered file look
 * the same to GCM, so the caller reports both in one message.
 */
export function decrypt(payload: EncryptedPayload, key: KeyObject): string | undefined {
  const iv = Buffer.from(payload.iv, "base64");
  const tag = Buffer.from(payload.tag, "base64");
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(AAD);
    decipher.setAuthTag(tag);
    const data = Buffer.from(payload.data, "base64");
    return Buffer.concat([decipher.update(data), decipher.final()]).toString("utf8");
  } catch {
    return undefined;
  }
}
