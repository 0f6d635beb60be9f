import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { deleteKeys, keysUnder, testRedis, uniquePrefix } from "../../test/support/redis.js";
import { ClosedError } from "../errors.js";
import { FileTokenStore } from "../stores/file-store.js";
import { MemoryTokenStore } from "../stores/memory-store.js";
import { type StoreChange, sharesState } from "../stores/shared-state.js";
import { createStore } from "./create-store.js";
import { parseConfig } from "./parse.js";

const base = "providers:\n  p:\n    api_keys: [k]\n";

describe("createStore", () => {
  it("builds the store a config names, or none", async () => {
    expect(createStore(parseConfig(base).store)).toBeUndefined();
    expect(createStore(parseConfig(`${base}store: { type: memory }\n`).store)).toBeInstanceOf(
      MemoryTokenStore,
    );
    const dir = await mkdtemp(join(tmpdir(), "om-cfg-store-"));
    try {
      const path = join(dir, "tokens.json");
      const store = createStore(
        parseConfig(`${base}store: { type: file, path: "${path}" }\n`).store,
      );
      expect(store).toBeInstanceOf(FileTokenStore);
      await store?.save("p/a", { accessToken: "x" });
      expect((await store?.load("p/a"))?.accessToken).toBe("x");
      await store?.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("builds a redis store from the config's url and prefix, keeping every key under the prefix", async () => {
    const redis = await testRedis();
    const prefix = uniquePrefix();
    try {
      const config = parseConfig(
        `${base}store: { type: redis, url: "${redis.url}", prefix: "${prefix}" }\n`,
      );
      const store = createStore(config.store);
      await store?.save("p/a", { accessToken: "x" });
      expect((await store?.load("p/a"))?.accessToken).toBe("x");
      await expect(store?.withLock("p/a", async () => "locked")).resolves.toBe("locked");
      await store?.close();
      await expect(store?.load("p/a")).rejects.toBeInstanceOf(ClosedError);
      const keys = await keysUnder(redis.url, prefix);
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) expect(key.startsWith(prefix)).toBe(true);
    } finally {
      await deleteKeys(redis.url, prefix);
      await redis.stop();
    }
  });

  it("a redis store shares changes and health marks between replicas, like a RedisTokenStore", async () => {
    const redis = await testRedis();
    const prefix = uniquePrefix();
    const config = parseConfig(
      `${base}store: { type: redis, url: "${redis.url}", prefix: "${prefix}" }\n`,
    );
    const one = createStore(config.store);
    const two = createStore(config.store);
    try {
      if (!one || !two) throw new Error("no store built");
      expect(sharesState(one)).toBe(true);
      if (!sharesState(one) || !sharesState(two)) throw new Error("the store does not share");
      const heard: StoreChange[] = [];
      let subscribed!: () => void;
      const ready = new Promise<void>((resolve) => {
        subscribed = resolve;
      });
      const stop = two.watch("p/", (change) => {
        heard.push(change);
        if (change.type === "resync") subscribed();
      });
      await ready;
      const saved = new Promise<void>((resolve) => {
        const stopSaved = two.watch("p/", (change) => {
          if (change.type === "saved") {
            stopSaved();
            resolve();
          }
        });
      });
      await one.save("p/a", { accessToken: "x" });
      await saved;
      expect(heard).toContainEqual(expect.objectContaining({ type: "saved", key: "p/a" }));
      await one.saveHealthMark("p/a", { kind: "cooldown", remainingMs: 60_000 });
      const marks = await two.loadHealthMarks("p/");
      expect(marks.get("p/a")?.[0]).toMatchObject({ kind: "cooldown" });
      stop();
    } finally {
      await one?.close();
      await two?.close();
      await deleteKeys(redis.url, prefix);
      await redis.stop();
    }
  });

  it("a redis store closed before its first call never connects, and refuses calls after", async () => {
    const store = createStore(
      parseConfig(`${base}store: { type: redis, url: "redis://127.0.0.1:1" }\n`).store,
    );
    await store?.close();
    await expect(store?.load("p/a")).rejects.toBeInstanceOf(ClosedError);
  });
});
