import { afterEach, describe, expect, it, vi } from "vitest";
import { StoreError } from "../errors.js";
import { OAuthKeyManager } from "../manager/oauth-key-manager.js";
import { MemoryTokenStore } from "../stores/memory-store.js";
import type { StoredToken, TokenStore } from "../stores/types.js";
import type { OAuthCredentialSet } from "../types.js";

const HOUR = 3_600_000;
const quiet = { warn() {}, error() {} };

afterEach(() => {
  vi.useRealTimers();
});

/** `inner` as one process sees it: its saves fail while `down` is set. */
function flaky(inner: MemoryTokenStore): TokenStore & { down: boolean } {
  return {
    down: false,
    load: (key) => inner.load(key),
    loadAll: (prefix) => inner.loadAll(prefix),
    save(key: string, token: StoredToken) {
      if (this.down) return Promise.reject(new StoreError("store down"));
      return inner.save(key, token);
    },
    delete: (key) => inner.delete(key),
    withLock: (key, fn, options) => inner.withLock(key, fn, options),
    close: async () => {},
  };
}

function manager(store: TokenStore, name: string): OAuthKeyManager {
  return new OAuthKeyManager(
    "P",
    [
      {
        id: "x",
        accessToken: "at-0",
        refreshToken: "rt-0",
        expiresAt: new Date(Date.now() + HOUR),
      },
    ],
    async (cred: Readonly<OAuthCredentialSet>) => ({
      ...cred,
      accessToken: `at-${name}`,
      refreshToken: `rt-${name}`,
      expiresAt: new Date(Date.now() + HOUR),
    }),
    { store, logger: quiet },
  );
}

describe("a save retried after the store was away", () => {
  it("does not overwrite a newer token another process stored meanwhile; it takes that one", async () => {
    vi.useFakeTimers();
    const inner = new MemoryTokenStore();
    const store = flaky(inner);
    const a = manager(store, "A");
    const b = manager(inner, "B");
    await Promise.all([a.ready(), b.ready()]);
    await vi.advanceTimersByTimeAsync(10);
    expect((await inner.load("P/x"))?.accessToken).toBe("at-0");

    store.down = true;
    expect((await a.refreshCredential("x", { force: true })).accessToken).toBe("at-A");
    await vi.advanceTimersByTimeAsync(100);
    // Another process refreshes later and stores its token; then the store answers A again.
    expect((await b.refreshCredential("x", { force: true })).accessToken).toBe("at-B");
    store.down = false;
    await vi.advanceTimersByTimeAsync(2_000);

    expect((await inner.load("P/x"))?.accessToken).toBe("at-B");
    expect(a.getCredentials()[0]?.accessToken).toBe("at-B");
    await a.close();
    await b.close();
  });
});
