/**
 * A refresh function may reject with anything: values whose reading throws (getters, proxies,
 * throwing `toString`, no prototype, symbols) are refresh failures like any other, counted and
 * backed off, never an exception that escapes the accounting.
 */
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { CredentialsUnavailableError, messageOf, RefreshError, redactSecrets } from "../errors.js";
import { OAuthKeyManager } from "../manager/oauth-key-manager.js";
import { toRefreshError } from "./refresh-result.js";

const boom = () => {
  throw new Error("read me and die");
};

/** Fresh each time: a revoked proxy cannot be revived, and a test must not share state. */
function hostileValues(): [string, () => unknown][] {
  return [
    [
      "getters that throw",
      () => ({
        get message() {
          return boom();
        },
        get oauthError() {
          return boom();
        },
        get error() {
          return boom();
        },
        get permanent() {
          return boom();
        },
        get status() {
          return boom();
        },
      }),
    ],
    [
      "an Error whose message and name getters throw",
      () =>
        Object.defineProperties(new Error("x"), {
          message: { get: boom },
          name: { get: boom },
        }),
    ],
    [
      "a Proxy whose every trap throws",
      () =>
        new Proxy(
          {},
          {
            get: boom,
            has: boom,
            ownKeys: boom,
            getOwnPropertyDescriptor: boom,
            getPrototypeOf: boom,
          },
        ),
    ],
    [
      "a revoked Proxy",
      () => {
        const { proxy, revoke } = Proxy.revocable(new Error("x"), {});
        revoke();
        return proxy;
      },
    ],
    ["a Symbol", () => Symbol("refresh failed")],
    ["an object whose toString throws", () => ({ toString: boom, valueOf: boom })],
    ["an object without a prototype", () => Object.create(null)],
    [
      "an Error subclass with a throwing toString",
      () => Object.assign(new Error("e"), { toString: boom }),
    ],
  ];
}

describe("reading hostile rejection values", () => {
  it.each(hostileValues())("toRefreshError turns %s into a RefreshError", (_, make) => {
    const err = toRefreshError("a", make(), ["secret-token-1234"]);
    expect(err).toBeInstanceOf(RefreshError);
    expect(typeof err.message).toBe("string");
    expect(err.message).toMatch(/^failed to refresh OAuth token for credential a: /);
    expect(err.permanent).toBe(false);
    expect(() => inspect(err)).not.toThrow();
  });

  it.each(hostileValues())("messageOf and redactSecrets survive %s", (_, make) => {
    const value = make();
    expect(typeof messageOf(value)).toBe("string");
    expect(() => redactSecrets(value, ["secret-token-1234"])).not.toThrow();
  });
});

describe("a refresh function rejecting with a hostile value", () => {
  it.each(hostileValues())("%s: counted as a refresh failure, then backed off", async (_, make) => {
    let now = Date.UTC(2026, 0, 1);
    let calls = 0;
    const m = new OAuthKeyManager(
      "P",
      [{ id: "a", accessToken: "", refreshToken: "rt" }],
      () => {
        calls++;
        return Promise.reject(make());
      },
      { now: () => now, logger: { warn() {}, error() {} }, backoff: { refreshUnhealthyAfter: 2 } },
    );
    const failures: { error: unknown; consecutiveFailures: number }[] = [];
    m.on("refresh_failure", (e) => failures.push(e));
    const request = () =>
      m.executeWithFailover(async (c) => ({ result: c.accessToken })).catch((e: unknown) => e);

    for (let i = 1; i <= 2; i++) {
      const err = (await request()) as { errors?: unknown[] };
      expect(err.errors?.at(-1)).toBeInstanceOf(RefreshError);
      expect(failures).toHaveLength(i);
      expect(failures[i - 1]?.error).toBeInstanceOf(RefreshError);
      expect(failures[i - 1]?.consecutiveFailures).toBe(i);
      expect(m.getCredentialHealthInfo("a")?.refreshFailCount).toBe(i);
      now += 1;
    }
    // past the threshold the credential is in backoff: no third call of the refresh function
    expect(await request()).toBeInstanceOf(CredentialsUnavailableError);
    expect(calls).toBe(2);
    await m.close();
  });
});

describe("an onTokenRefresh rejecting with a hostile value", () => {
  it.each(hostileValues())("%s: reported, the fresh token kept", async (_, make) => {
    const logged: unknown[] = [];
    const m = new OAuthKeyManager(
      "P",
      [
        {
          id: "a",
          accessToken: "",
          refreshToken: "rt",
          onTokenRefresh: () => Promise.reject(make()),
        },
      ],
      async (c) => ({ ...c, accessToken: "fresh" }),
      {
        logger: {
          warn() {},
          // a logger that shows what it is given, as console does
          error: (...args: unknown[]) => logged.push(inspect(args)),
        },
      },
    );
    const storeErrors: string[] = [];
    m.on("store_error", (e) => storeErrors.push(e.operation));
    const res = await m.executeWithFailover(async (c) => ({ result: c.accessToken }));
    expect(res.result).toBe("fresh");
    expect(storeErrors).toEqual(["onTokenRefresh"]);
    expect(logged).toHaveLength(1);
    await m.close();
  });
});
