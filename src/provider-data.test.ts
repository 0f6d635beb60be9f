/**
 * Provider data (a Qwen resource URL, a Codex account id, a Google project) travels with its
 * credential: checked on the way in, copied and frozen, merged by refreshes, kept by the store
 * and shown in logs, since it holds no secret.
 */
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { ConfigError } from "./errors.js";
import { OAuthKeyManager } from "./manager/oauth-key-manager.js";
import { mergeRefreshed } from "./refresh/refresh-result.js";
import { MemoryTokenStore } from "./stores/memory-store.js";
import type { OAuthCredentialSet, RefreshFunc } from "./types.js";

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;
const quiet = { warn() {}, error() {} };

function cred(extra: Partial<OAuthCredentialSet> = {}): OAuthCredentialSet {
  return {
    id: "q1",
    accessToken: "access-canary-1",
    refreshToken: "refresh-canary-1",
    expiresAt: new Date(T0 + HOUR),
    providerData: { resourceUrl: "portal.qwen.ai" },
    ...extra,
  };
}

describe("provider data on a credential", () => {
  it.each([
    ["a string", "portal.qwen.ai", "credential (q1).providerData: must be an object, got a string"],
    ["an array", [], "credential (q1).providerData: must be an object, got an array"],
    [
      "a number field",
      { accountId: 7 },
      "credential (q1).providerData.accountId: must be a string, got a number",
    ],
    [
      "a misspelt field",
      { resourceURL: "x" },
      'credential (q1).providerData.resourceURL: is not a known field (did you mean "resourceUrl"?); expected resourceUrl, accountId, projectId',
    ],
  ])("refuses %s, saying where", (_, providerData, message) => {
    const m = new OAuthKeyManager("qwen", [], undefined, { logger: quiet });
    let error: unknown;
    try {
      m.addCredential(cred({ providerData: providerData as never }));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(message);
  });

  it("is copied in and out, frozen for operations, and shown in logs and JSON", async () => {
    const given = cred({ providerData: { resourceUrl: "portal.qwen.ai", accountId: "acct-1" } });
    const m = new OAuthKeyManager("qwen", [given], undefined, { now: () => T0, logger: quiet });
    if (given.providerData) given.providerData.resourceUrl = "changed by the caller";

    const seen = await m.executeWithFailover(async (c) => {
      expect(Object.isFrozen(c.providerData)).toBe(true);
      return { result: c.providerData };
    });
    expect(seen.result).toStrictEqual({ resourceUrl: "portal.qwen.ai", accountId: "acct-1" });

    const [copy] = m.getCredentials();
    if (copy?.providerData) copy.providerData.accountId = "changed";
    expect(m.getCredentials()[0]?.providerData?.accountId).toBe("acct-1");

    const shown = `${inspect(copy)} ${JSON.stringify(copy)}`;
    expect(shown).toContain("portal.qwen.ai");
    expect(shown).not.toContain("access-canary-1");
    expect(shown).not.toContain("refresh-canary-1");
    await m.close();
  });
});

describe("provider data through a refresh", () => {
  const before = cred({ providerData: { resourceUrl: "old.qwen.ai", projectId: "proj-1" } });

  it("fields that come back replace the old ones; the others stay", () => {
    const merged = mergeRefreshed(
      before,
      { ...before, accessToken: "new", providerData: { resourceUrl: "new.qwen.ai" } },
      T0,
    );
    expect(merged.providerData).toStrictEqual({ resourceUrl: "new.qwen.ai", projectId: "proj-1" });
    expect(before.providerData).toStrictEqual({ resourceUrl: "old.qwen.ai", projectId: "proj-1" });
  });

  it("a result without provider data keeps the old", () => {
    const { providerData: _, ...bare } = before;
    const merged = mergeRefreshed(before, { ...bare, accessToken: "new" }, T0);
    expect(merged.providerData).toStrictEqual(before.providerData);
  });

  it("invalid provider data in a result is a refresh failure quoting no token", () => {
    expect(() =>
      mergeRefreshed(before, { accessToken: "new-canary", providerData: { accountId: 1 } }, T0),
    ).toThrow(
      "the refresh function returned a credential whose providerData.accountId must be a string, got a number",
    );
  });

  it("is stored with the refreshed tokens, and another manager on the store takes it", async () => {
    const store = new MemoryTokenStore();
    let now = T0;
    const refresh: RefreshFunc = async (c) => ({
      ...c,
      accessToken: "access-2",
      refreshToken: "refresh-2",
      expiresAt: new Date(now + HOUR),
      providerData: { resourceUrl: "chat.qwen.ai" },
    });
    const options = { store, now: () => now, logger: quiet };
    const a = new OAuthKeyManager("qwen", [cred()], refresh, options);
    await a.ready();
    now += 1_000;
    await a.refreshCredential("q1", { force: true });
    expect((await store.load("qwen/q1"))?.providerData).toStrictEqual({
      resourceUrl: "chat.qwen.ai",
    });

    const b = new OAuthKeyManager("qwen", [cred()], refresh, options);
    await b.ready();
    expect(b.getCredentials()[0]?.providerData).toStrictEqual({ resourceUrl: "chat.qwen.ai" });
    await Promise.all([a.close(), b.close()]);
  });
});
