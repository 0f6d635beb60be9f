/**
 * What a refresh function returns is checked before any operation sees it: a token already
 * expired, a result that is no credential, or one without an access token is a refresh failure.
 */
import { describe, expect, it } from "vitest";
import { RefreshError } from "../errors.js";
import { OAuthKeyManager } from "../manager/oauth-key-manager.js";
import type { OAuthCredentialSet } from "../types.js";
import { mergeRefreshed } from "./refresh-result.js";

const NOW = Date.UTC(2026, 0, 1);
const before: OAuthCredentialSet = { id: "a", accessToken: "old-token-1234", refreshToken: "rt" };

function refusal(result: unknown): RefreshError {
  try {
    mergeRefreshed(before, result, NOW);
  } catch (err) {
    expect(err).toBeInstanceOf(RefreshError);
    return err as RefreshError;
  }
  throw new Error("mergeRefreshed accepted the result");
}

describe("mergeRefreshed", () => {
  it.each([
    ["expiring now", new Date(NOW)],
    ["expired an hour ago", new Date(NOW - 3_600_000)],
  ])("refuses a token %s, as a transient failure", (_, expiresAt) => {
    const err = refusal({ ...before, accessToken: "new-token-5678", expiresAt });
    expect(err.message).toBe(
      "failed to refresh OAuth token for credential a: token refresh returned a token that has already expired",
    );
    expect(err.permanent).toBe(false);
  });

  it.each([
    [undefined, "undefined"],
    [null, "null"],
    ["new-token-5678", "a string"],
    [42, "a number"],
    [true, "a boolean"],
  ])("refuses %s for a credential, saying what arrived and quoting no value", (result, kind) => {
    const err = refusal(result);
    expect(err.message).toBe(
      `failed to refresh OAuth token for credential a: the refresh function returned ${kind}, not a credential object`,
    );
    expect(err.message).not.toContain("new-token-5678");
  });

  it.each([
    [undefined, "undefined"],
    ["", "an empty string"],
    [12345, "a number"],
    [{ token: "new-token-5678" }, "an object"],
  ])("refuses an accessToken that is %s", (accessToken, kind) => {
    const err = refusal({ ...before, accessToken });
    expect(err.message).toBe(
      `failed to refresh OAuth token for credential a: the refresh function returned a credential whose accessToken is ${kind}, not a non-empty string`,
    );
    expect(err.message).not.toContain("new-token-5678");
  });

  it("takes a token that expires later", () => {
    const expiresAt = new Date(NOW + 1);
    const merged = mergeRefreshed(before, { accessToken: "new-token-5678", expiresAt }, NOW);
    expect(merged.accessToken).toBe("new-token-5678");
    expect(merged.expiresAt).toBe(expiresAt);
  });
});

describe("a refresh that returns an expired token", () => {
  it("is a refresh failure; the operation never sees the token and the next credential serves", async () => {
    let now = NOW;
    const m = new OAuthKeyManager(
      "P",
      [
        { id: "a", accessToken: "", refreshToken: "rt-a" },
        { id: "b", accessToken: "", refreshToken: "rt-b" },
      ],
      async (c) => ({
        ...c,
        accessToken: `refreshed-${c.id}`,
        expiresAt: new Date(c.id === "a" ? now - 1 : now + 3_600_000),
      }),
      { now: () => now, logger: { warn() {}, error() {} }, selection: "fill-first" },
    );
    const failures: { credentialId: string; error: RefreshError; permanent: boolean }[] = [];
    m.on("refresh_failure", (e) => failures.push(e as (typeof failures)[number]));
    const seen: string[] = [];
    const res = await m.executeWithFailover(async (c) => {
      seen.push(c.accessToken);
      return { result: c.id };
    });
    expect(res.result).toBe("b");
    expect(seen).toEqual(["refreshed-b"]);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.credentialId).toBe("a");
    expect(failures[0]?.permanent).toBe(false);
    expect(failures[0]?.error.message).toContain(
      "token refresh returned a token that has already expired",
    );
    expect(m.getCredentialHealthInfo("a")?.refreshFailCount).toBe(1);
    expect(m.getCredentials().find((c) => c.id === "a")?.accessToken).not.toBe("refreshed-a");
    now += 1;
    await m.close();
  });
});
