/**
 * The contract every {@link TokenStore} must meet, as one vitest suite each implementation runs:
 * `testTokenStore("FileTokenStore", async () => ({ store, cleanup }))`.
 * Not part of the package build (see tsconfig.build.json).
 * @module
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ClosedError, StoreError } from "../../errors.js";
import type { StoredToken, TokenStore } from "../types.js";

/** A fresh, empty store and what removes it afterwards. */
export interface TokenStoreFixture {
  store: TokenStore;
  cleanup: () => Promise<void>;
}

/** A promise with its resolver outside, for ordering steps without sleeping. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function fullToken(n: number): StoredToken {
  return {
    accessToken: `access-${n}`,
    refreshToken: `refresh-${n}`,
    expiresAt: new Date(Date.UTC(2030, 0, 1, 0, 0, n)),
    lastRefresh: new Date(Date.UTC(2029, 11, 31, 23, 0, n)),
    refreshCount: n,
    scopes: ["openid", `scope-${n}`],
    providerData: {
      resourceUrl: `https://api-${n}.example.test/v1`,
      accountId: `account-${n}`,
      projectId: `project-${n}`,
    },
    rotation: {
      createdAt: new Date(Date.UTC(2029, 0, 1)),
      markedForRotation: n % 2 === 0,
      rotationStartedAt: new Date(Date.UTC(2029, 5, 1)),
      replacementId: `replacement-${n}`,
      decommissionAt: new Date(Date.UTC(2029, 6, 1)),
    },
    usage: [
      { window: "hour", start: new Date(Date.UTC(2029, 11, 31, 23)), tokens: 1_000 + n, cost: 0 },
      { window: "month", start: new Date(Date.UTC(2029, 11, 1)), tokens: 90_000 + n, cost: 1.25 },
    ],
  };
}

/**
 * Registers the shared TokenStore contract tests under `describe(name)`. `makeStore` is called
 * before each test and must return an empty store; `cleanup` runs after it.
 */
export function testTokenStore(name: string, makeStore: () => Promise<TokenStoreFixture>): void {
  describe(`${name} (TokenStore contract)`, () => {
    let store: TokenStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
    });

    afterEach(async () => {
      await store.close();
      await cleanup();
    });

    it("load of a key never saved resolves undefined", async () => {
      await expect(store.load("p/none")).resolves.toBeUndefined();
    });

    it("round-trips every field, with version 1 on the first save", async () => {
      const saved = await store.save("p/a", fullToken(1));
      expect(saved).toStrictEqual({ ...fullToken(1), version: 1 });
      await expect(store.load("p/a")).resolves.toStrictEqual({ ...fullToken(1), version: 1 });
    });

    it("round-trips a minimal token without adding undefined fields", async () => {
      await store.save("p/min", { accessToken: "only" });
      const loaded = await store.load("p/min");
      expect(loaded).toStrictEqual({ accessToken: "only", version: 1 });
      expect(Object.keys(loaded ?? {}).sort()).toEqual(["accessToken", "version"]);
    });

    it("round-trips provider data with only some fields, adding none", async () => {
      await store.save("p/pd", {
        accessToken: "a",
        providerData: { resourceUrl: "portal.qwen.ai" },
      });
      const loaded = await store.load("p/pd");
      expect(loaded?.providerData).toStrictEqual({ resourceUrl: "portal.qwen.ai" });
      if (loaded?.providerData) loaded.providerData.resourceUrl = "mutated";
      expect((await store.load("p/pd"))?.providerData).toStrictEqual({
        resourceUrl: "portal.qwen.ai",
      });
    });

    it("keeps an empty access token (refreshed before first use)", async () => {
      await store.save("p/empty", { accessToken: "", refreshToken: "r" });
      await expect(store.load("p/empty")).resolves.toMatchObject({ accessToken: "" });
    });

    it("versions increase by one on every save of a key, whatever version is passed in", async () => {
      expect((await store.save("p/v", fullToken(1))).version).toBe(1);
      expect((await store.save("p/v", { ...fullToken(2), version: 99 })).version).toBe(2);
      expect((await store.save("p/v", { ...fullToken(3), version: 0 })).version).toBe(3);
      expect((await store.load("p/v"))?.version).toBe(3);
      expect((await store.save("p/other", fullToken(1))).version).toBe(1);
    });

    it("gives Dates back as Dates, at the same instant", async () => {
      await store.save("p/d", fullToken(5));
      const t = await store.load("p/d");
      for (const d of [
        t?.expiresAt,
        t?.lastRefresh,
        t?.rotation?.createdAt,
        t?.rotation?.rotationStartedAt,
        t?.rotation?.decommissionAt,
        t?.usage?.[0]?.start,
      ]) {
        expect(d).toBeInstanceOf(Date);
      }
      expect(t?.expiresAt?.getTime()).toBe(fullToken(5).expiresAt?.getTime());
    });

    it("copies on save and on load: nothing aliases the stored token", async () => {
      const input = fullToken(1);
      const saved = await store.save("p/c", input);
      input.accessToken = "mutated";
      input.scopes?.push("mutated");
      if (input.providerData) input.providerData.accountId = "mutated";
      input.expiresAt?.setTime(0);
      if (input.rotation) input.rotation.createdAt.setTime(0);
      if (input.usage?.[0]) input.usage[0].tokens = 0;
      saved.scopes?.push("mutated-too");
      saved.expiresAt?.setTime(1);

      const first = await store.load("p/c");
      expect(first).toStrictEqual({ ...fullToken(1), version: 1 });
      first?.scopes?.push("mutated-again");
      first?.expiresAt?.setTime(2);
      first?.rotation?.decommissionAt?.setTime(2);

      const second = await store.load("p/c");
      expect(second).toStrictEqual({ ...fullToken(1), version: 1 });
      expect(second).not.toBe(first);
      expect(second?.scopes).not.toBe(first?.scopes);
    });

    it("loadAll returns the keys with the prefix, as copies", async () => {
      await store.save("gemini/a", fullToken(1));
      await store.save("gemini/b", fullToken(2));
      await store.save("qwen/a", fullToken(3));

      const gemini = await store.loadAll("gemini/");
      expect([...gemini.keys()].sort()).toEqual(["gemini/a", "gemini/b"]);
      expect(gemini.get("gemini/b")).toStrictEqual({ ...fullToken(2), version: 1 });
      gemini.get("gemini/a")?.scopes?.push("mutated");
      expect((await store.load("gemini/a"))?.scopes).toEqual(fullToken(1).scopes);

      expect((await store.loadAll("")).size).toBe(3);
      expect((await store.loadAll("none/")).size).toBe(0);
    });

    it("delete removes a key, and deleting a missing key is fine", async () => {
      await store.save("p/x", fullToken(1));
      await store.save("p/y", fullToken(2));
      await store.delete("p/x");
      await expect(store.load("p/x")).resolves.toBeUndefined();
      await expect(store.load("p/y")).resolves.toMatchObject({ accessToken: "access-2" });
      await expect(store.delete("p/never")).resolves.toBeUndefined();
    });

    it("rejects a bad key or token with a TypeError that does not quote the value", async () => {
      await expect(store.load("")).rejects.toThrow(TypeError);
      await expect(store.save("p/t", { accessToken: 42 } as never)).rejects.toThrow(
        /accessToken.*string/,
      );
      const err = await store
        .save("p/t", { accessToken: "a", refreshToken: 7 } as never)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TypeError);
      await expect(
        store.save("p/t", { accessToken: "secret-canary", expiresAt: new Date(Number.NaN) }),
      ).rejects.toThrow(/expiresAt/);
      const bad = await store
        .save("p/t", { accessToken: "secret-canary", expiresAt: "soon" } as never)
        .catch((e: unknown) => e);
      expect(String(bad)).not.toContain("secret-canary");
      expect(String(bad)).not.toContain("soon");
      await expect(
        store.save("p/t", { accessToken: "a", providerData: "portal.qwen.ai" } as never),
      ).rejects.toThrow(/token\.providerData. must be an object, got a string/);
      await expect(
        store.save("p/t", { accessToken: "a", providerData: { accountId: 7 } } as never),
      ).rejects.toThrow(/token\.providerData\.accountId. must be a string, got a number/);
    });

    it("withLock resolves with fn's result and rejects with fn's error, releasing the lock", async () => {
      await expect(store.withLock("p/l", async () => 42)).resolves.toBe(42);
      const boom = new Error("boom");
      await expect(
        store.withLock("p/l", async () => {
          throw boom;
        }),
      ).rejects.toBe(boom);
      await expect(store.withLock("p/l", async () => "again", { timeoutMs: 2_000 })).resolves.toBe(
        "again",
      );
    });

    it("withLock lets one holder at a time in for the same key, in arrival order", async () => {
      let inside = 0;
      let maxInside = 0;
      const order: number[] = [];
      const gate = deferred();
      const run = (i: number) =>
        store.withLock("p/same", async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          order.push(i);
          if (i === 0) await gate.promise;
          await Promise.resolve();
          inside--;
          return i;
        });
      const first = run(0);
      // Let the first holder in before the others queue up.
      while (order.length === 0) await new Promise((r) => setImmediate(r));
      const rest = [1, 2, 3, 4].map(run);
      gate.resolve();
      await expect(Promise.all([first, ...rest])).resolves.toEqual([0, 1, 2, 3, 4]);
      expect(maxInside).toBe(1);
      expect(order[0]).toBe(0);
      expect([...order].sort()).toEqual([0, 1, 2, 3, 4]);
    });

    it("withLock does not exclude holders of different keys", async () => {
      const bEntered = deferred();
      const a = store.withLock("p/key-a", async () => {
        await bEntered.promise; // would deadlock if key-b waited for key-a
        return "a";
      });
      const b = store.withLock(
        "p/key-b",
        async () => {
          bEntered.resolve();
          return "b";
        },
        { timeoutMs: 10_000 },
      );
      await expect(Promise.all([a, b])).resolves.toEqual(["a", "b"]);
    });

    it("a load inside withLock sees what the previous holder saved, so a credential is refreshed once across processes", async () => {
      await store.withLock("p/rw", async () => {
        await store.save("p/rw", fullToken(1));
      });
      const seen = await store.withLock("p/rw", async () => store.load("p/rw"));
      expect(seen?.accessToken).toBe("access-1");
    });

    it("withLock gives up with a StoreError after timeoutMs, and the lock stays usable", async () => {
      const release = deferred();
      const held = deferred();
      const holder = store.withLock("p/t", async () => {
        held.resolve();
        await release.promise;
      });
      await held.promise;
      let ran = false;
      const err = await store
        .withLock(
          "p/t",
          async () => {
            ran = true;
          },
          { timeoutMs: 50 },
        )
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).code).toBe("STORE_FAILED");
      expect(ran).toBe(false);
      release.resolve();
      await holder;
      await expect(store.withLock("p/t", async () => "next", { timeoutMs: 5_000 })).resolves.toBe(
        "next",
      );
    });

    it("withLock rejects with signal.reason when aborted before or while waiting", async () => {
      const reason = new Error("caller gave up");
      let ran = false;
      await expect(
        store.withLock(
          "p/abort",
          async () => {
            ran = true;
          },
          { signal: AbortSignal.abort(reason) },
        ),
      ).rejects.toBe(reason);
      expect(ran).toBe(false);

      const release = deferred();
      const held = deferred();
      const holder = store.withLock("p/abort", async () => {
        held.resolve();
        await release.promise;
      });
      await held.promise;
      const controller = new AbortController();
      const waiting = store.withLock(
        "p/abort",
        async () => {
          ran = true;
        },
        { signal: controller.signal, timeoutMs: 10_000 },
      );
      controller.abort(reason);
      await expect(waiting).rejects.toBe(reason);
      release.resolve();
      await holder;
      expect(ran).toBe(false);
      await expect(store.withLock("p/abort", async () => "free")).resolves.toBe("free");
    });

    it("withLock rejects bad options with a RangeError or TypeError", async () => {
      await expect(store.withLock("p/o", async () => 1, { timeoutMs: -1 })).rejects.toThrow(
        RangeError,
      );
      await expect(store.withLock("p/o", "nope" as never)).rejects.toThrow(TypeError);
    });

    it("close is idempotent and later calls reject with ClosedError", async () => {
      await store.save("p/z", fullToken(1));
      await store.close();
      await store.close();
      await expect(store.load("p/z")).rejects.toBeInstanceOf(ClosedError);
      await expect(store.save("p/z", fullToken(2))).rejects.toBeInstanceOf(ClosedError);
      await expect(store.loadAll("")).rejects.toBeInstanceOf(ClosedError);
      await expect(store.delete("p/z")).rejects.toBeInstanceOf(ClosedError);
      await expect(store.withLock("p/z", async () => 1)).rejects.toBeInstanceOf(ClosedError);
    });
  });
}
