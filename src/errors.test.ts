import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import {
  ConfigError,
  CredentialsUnavailableError,
  FailoverExhaustedError,
  isOAuthManagerError,
  NoCredentialsError,
  RefreshError,
  redactSecrets,
} from "./errors.js";

const SECRET = "sk-live-CANARY-4242";

describe("error messages", () => {
  it("match the contract", () => {
    expect(new NoCredentialsError("Gemini").message).toBe(
      "no OAuth credentials configured for Gemini",
    );
    expect(new CredentialsUnavailableError("Gemini", 3, 1000).message).toBe(
      "all 3 OAuth credentials for Gemini are currently unavailable",
    );
    expect(new FailoverExhaustedError("Gemini", [new Error("a"), new Error("b")]).message).toBe(
      "Gemini: all 2 OAuth credential failover attempts failed, last error: b",
    );
    expect(new RefreshError("acct", "boom").message).toBe(
      "failed to refresh OAuth token for credential acct: boom",
    );
    const config = new ConfigError([
      { path: "providers.gemini.oauth_credentials[1].expires_at", message: "not a date" },
    ]);
    expect(config.message).toBe("providers.gemini.oauth_credentials[1].expires_at: not a date");
    expect(isOAuthManagerError(config)).toBe(true);
    expect(isOAuthManagerError(new Error("x"))).toBe(false);
  });
});

describe("redactSecrets", () => {
  it("returns an error that quotes no secret unchanged", () => {
    const err = new Error("plain");
    expect(redactSecrets(err, [SECRET])).toBe(err);
  });

  it("redacts message, stack, nested request config and the cause chain, without mutating", () => {
    // the shape of an axios error: the request's headers ride along in `config`
    const cause = new Error(`upstream said no to ${SECRET}`);
    const err = Object.assign(new TypeError(`request with ${SECRET} failed`, { cause }), {
      config: { headers: { Authorization: `Bearer ${SECRET}` }, url: "https://api.example" },
      response: { status: 401, data: { echoed: [SECRET] } },
    });
    (err as unknown as { self: unknown }).self = err; // a cycle
    const safe = redactSecrets(err, [SECRET]);
    expect(safe).not.toBe(err);
    expect(safe).toBeInstanceOf(TypeError);
    expect(inspect(safe, { depth: 20 })).not.toContain(SECRET);
    expect(inspect(safe, { depth: 20 })).toContain("[REDACTED]");
    expect(safe.response.status).toBe(401);
    expect(err.message).toContain(SECRET); // the error passed in is untouched
  });
});
