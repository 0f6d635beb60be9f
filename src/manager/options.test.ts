import { describe, expect, it } from "vitest";
import { KeyManager } from "./key-manager.js";
import { OAuthKeyManager } from "./oauth-key-manager.js";
import { type OAuthKeyManagerOptions, resolveOptions } from "./options.js";

const creds = [{ id: "a", accessToken: "tok-a" }];
const quiet = { warn() {}, error() {} };

describe("resolveOptions", () => {
  it("fills in every default", () => {
    const r = resolveOptions(undefined);
    expect(r.selector.name).toBe("round-robin");
    expect(r.health).toEqual({
      unhealthyAfter: 3,
      refreshUnhealthyAfter: 5,
      maxCooldownMs: 3_600_000,
      jitter: false,
    });
    expect(r.refreshStrategy.bufferTime).toBe(300_000);
    expect(r.rotationPolicy.enabled).toBe(false);
    expect([r.minRefreshIntervalMs, r.refreshTimeoutMs, r.storeTimeoutMs]).toEqual([
      30_000, 30_000, 5_000,
    ]);
    expect(r.store).toBeUndefined();
    expect(r.logger).toBe(console);
  });

  it("refuses a misspelt option, naming the nearest known one", () => {
    expect(() => resolveOptions({ selecton: "weighted" } as OAuthKeyManagerOptions)).toThrow(
      new TypeError("Unknown option `selecton`; did you mean `selection`?"),
    );
    expect(() =>
      resolveOptions({ backoff: { jiter: true } } as unknown as OAuthKeyManagerOptions),
    ).toThrow(new TypeError("Unknown option `backoff.jiter`; did you mean `backoff.jitter`?"));
  });

  it("lists the known options when nothing is close", () => {
    expect(() => resolveOptions({ zzzzzzzz: 1 } as OAuthKeyManagerOptions)).toThrow(
      /Unknown option `zzzzzzzz`; known options are now, selection, backoff/,
    );
  });

  it("refuses values of the wrong type without quoting them", () => {
    const bad = (o: unknown) => () => resolveOptions(o as OAuthKeyManagerOptions);
    expect(bad("fast")).toThrow("Expected `options` to be an object, got a string");
    expect(bad({ now: 5 })).toThrow("Expected `now` to be a function, got a number");
    expect(bad({ logger: "console" })).toThrow(/`logger` to be an object/);
    expect(bad({ store: "redis://user:secret@h" })).toThrow(
      "Expected `store` to be a TokenStore, got a string",
    );
    expect(bad({ refreshTimeoutMs: -1 })).toThrow(
      "Expected `refreshTimeoutMs` to be a finite number >= 0, got -1",
    );
    expect(bad({ backoff: { jitter: "yes" } })).toThrow(
      "Expected `backoff.jitter` to be a boolean, got a string",
    );
  });

  it("is what the manager's constructor applies", () => {
    expect(
      () =>
        new OAuthKeyManager("p", creds, undefined, {
          refreshTimeoutMS: 1,
          logger: quiet,
        } as OAuthKeyManagerOptions),
    ).toThrow("Unknown option `refreshTimeoutMS`; did you mean `refreshTimeoutMs`?");
  });
});

describe("KeyManager options", () => {
  it("refuses options that only OAuth credentials use, saying why", () => {
    for (const key of ["store", "refreshStrategy", "rotationPolicy", "refreshTimeoutMs"]) {
      expect(() => new KeyManager("p", ["k"], { [key]: undefined } as object)).toThrow(
        new TypeError(
          `Option \`${key}\` is for OAuthKeyManager only: a KeyManager's API keys are never refreshed, rotated or stored`,
        ),
      );
    }
  });

  it("refuses a misspelt option and accepts the shared ones", () => {
    expect(() => new KeyManager("p", ["k"], { loger: quiet } as object)).toThrow(
      "Unknown option `loger`; did you mean `logger`?",
    );
    expect(
      () => new KeyManager("p", ["k"], { logger: quiet, selection: "weighted" }),
    ).not.toThrow();
  });
});
