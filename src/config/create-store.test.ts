import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.js";
import { FileTokenStore } from "../stores/file-store.js";
import { MemoryTokenStore } from "../stores/memory-store.js";
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

  it("a redis store is refused with a clear message until oauthmanager/redis exists", () => {
    const config = parseConfig(`${base}store: { type: redis, url: "redis://127.0.0.1:6379" }\n`);
    expect(() => createStore(config.store)).toThrow(ConfigError);
    expect(() => createStore(config.store)).toThrow(/oauthmanager\/redis/);
  });
});
