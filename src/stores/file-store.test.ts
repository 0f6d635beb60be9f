import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConfigError, StoreError } from "../errors.js";
import type { Logger } from "../types.js";
import { type FileStoreFs, FileTokenStore, type FileTokenStoreOptions } from "./file-store.js";
import { testTokenStore } from "./test-support/token-store-contract.js";
import type { StoredToken } from "./types.js";

const quiet = () => ({
  warn: vi.fn<Logger["warn"]>(),
  error: vi.fn<Logger["error"]>(),
});

async function tempDir(): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), "oauthmanager-file-store-"));
}

testTokenStore("FileTokenStore", async () => {
  const dir = await tempDir();
  return {
    store: new FileTokenStore({ path: path.join(dir, "sub", "tokens.json"), logger: quiet() }),
    cleanup: () => fsp.rm(dir, { recursive: true, force: true }),
  };
});

testTokenStore("FileTokenStore (encrypted)", async () => {
  const dir = await tempDir();
  return {
    store: new FileTokenStore({
      path: path.join(dir, "tokens.json"),
      encryptionKey: randomBytes(32),
      logger: quiet(),
    }),
    cleanup: () => fsp.rm(dir, { recursive: true, force: true }),
  };
});

const SECRET_ACCESS = "ya29.canary-access-token-0123456789";
const SECRET_REFRESH = "1//canary-refresh-token-9876543210";

function secretToken(): StoredToken {
  return {
    accessToken: SECRET_ACCESS,
    refreshToken: SECRET_REFRESH,
    expiresAt: new Date("2030-01-01T00:00:00.000Z"),
    scopes: ["openid"],
  };
}

function mode(stat: { mode: number }): number {
  return stat.mode & 0o777;
}

describe("FileTokenStore", () => {
  let dir: string;
  let file: string;
  let logger: ReturnType<typeof quiet>;
  const stores: FileTokenStore[] = [];

  const open = (options: Partial<FileTokenStoreOptions> = {}) => {
    const store = new FileTokenStore({ path: file, logger, ...options });
    stores.push(store);
    return store;
  };

  beforeEach(async () => {
    dir = await tempDir();
    file = path.join(dir, "tokens.json");
    logger = quiet();
  });

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await fsp.rm(dir, { recursive: true, force: true });
  });

  describe("format", () => {
    it("writes the documented, human-readable JSON: snake_case, RFC 3339 dates, versions", async () => {
      const store = open({ now: () => Date.parse("2026-11-25T09:00:00.000Z") });
      await store.save("gemini/work", {
        ...secretToken(),
        lastRefresh: new Date("2026-11-25T08:00:00.000Z"),
        refreshCount: 3,
        rotation: {
          createdAt: new Date("2026-11-01T00:00:00.000Z"),
          markedForRotation: true,
          replacementId: "work-2",
          decommissionAt: new Date("2026-12-01T00:00:00.000Z"),
        },
      });
      const text = await fsp.readFile(file, "utf8");
      expect(text).toContain('\n  "tokens": {\n'); // pretty-printed
      expect(JSON.parse(text)).toStrictEqual({
        version: 1,
        tokens: {
          "gemini/work": {
            access_token: SECRET_ACCESS,
            refresh_token: SECRET_REFRESH,
            expires_at: "2030-01-01T00:00:00.000Z",
            last_refresh: "2026-11-25T08:00:00.000Z",
            refresh_count: 3,
            scopes: ["openid"],
            rotation: {
              created_at: "2026-11-01T00:00:00.000Z",
              marked_for_rotation: true,
              replacement_id: "work-2",
              decommission_at: "2026-12-01T00:00:00.000Z",
            },
            version: 1,
            updated_at: "2026-11-25T09:00:00.000Z",
          },
        },
      });
    });

    it("reads a hand-written file: offsets in dates, no version or updated_at", async () => {
      await fsp.writeFile(
        file,
        JSON.stringify({
          version: 1,
          tokens: {
            "qwen/a": { access_token: "at", expires_at: "2030-01-01T02:00:00+02:00" },
          },
        }),
        { mode: 0o600 },
      );
      const store = open();
      await expect(store.load("qwen/a")).resolves.toStrictEqual({
        accessToken: "at",
        expiresAt: new Date("2030-01-01T00:00:00.000Z"),
      });
      expect((await store.save("qwen/a", { accessToken: "at2" })).version).toBe(1);
    });

    it("writes provider data as provider_data in snake_case, and reads it back", async () => {
      const store = open();
      const providerData = { resourceUrl: "portal.qwen.ai", accountId: "acct-1", projectId: "p-1" };
      await store.save("qwen/a", { accessToken: "at", providerData });
      const doc = JSON.parse(await fsp.readFile(file, "utf8"));
      expect(doc.tokens["qwen/a"].provider_data).toStrictEqual({
        resource_url: "portal.qwen.ai",
        account_id: "acct-1",
        project_id: "p-1",
      });
      await expect(open().load("qwen/a")).resolves.toMatchObject({ providerData });
    });

    it("reads a file written before provider data existed, and saves over it", async () => {
      await fsp.writeFile(
        file,
        JSON.stringify({
          version: 1,
          tokens: { "qwen/a": { access_token: "at", refresh_token: "rt", version: 3 } },
        }),
        { mode: 0o600 },
      );
      const store = open();
      const loaded = await store.load("qwen/a");
      expect(loaded).toStrictEqual({ accessToken: "at", refreshToken: "rt", version: 3 });
      const saved = await store.save("qwen/a", {
        accessToken: "at2",
        providerData: { resourceUrl: "portal.qwen.ai" },
      });
      expect(saved).toMatchObject({ version: 4, providerData: { resourceUrl: "portal.qwen.ai" } });
    });

    it("keeps other keys and their updated_at untouched when one key is saved", async () => {
      let now = Date.parse("2026-01-01T00:00:00.000Z");
      const store = open({ now: () => now });
      await store.save("p/a", { accessToken: "a" });
      now += 60_000;
      await store.save("p/b", { accessToken: "b" });
      const doc = JSON.parse(await fsp.readFile(file, "utf8"));
      expect(doc.tokens["p/a"].updated_at).toBe("2026-01-01T00:00:00.000Z");
      expect(doc.tokens["p/b"].updated_at).toBe("2026-01-01T00:01:00.000Z");
    });

    it("a missing file is an empty store, and reading does not create it", async () => {
      const store = open();
      await expect(store.load("p/a")).resolves.toBeUndefined();
      await expect(store.loadAll("")).resolves.toEqual(new Map());
      await expect(fsp.stat(file)).rejects.toMatchObject({ code: "ENOENT" });
      await store.delete("p/a");
      await expect(fsp.stat(file)).rejects.toMatchObject({ code: "ENOENT" });
    });

    it("keeps keys such as __proto__ as plain entries", async () => {
      const store = open();
      await store.save("__proto__", { accessToken: "odd" });
      await store.save("p/a", { accessToken: "a" });
      const reopened = open();
      expect([...(await reopened.loadAll("")).keys()].sort()).toEqual(["__proto__", "p/a"]);
    });
  });

  describe("corrupt files: never read as empty, never overwritten", () => {
    const cases: Array<[string, string, RegExp]> = [
      [
        "truncated JSON",
        '{"version":1,"tokens":{"p/a":{"access_token":"ya29.can',
        /not valid JSON/,
      ],
      ["an empty file", "", /not valid JSON/],
      ["null", "null", /top, got null/],
      ["an array", "[]", /top, got an array/],
      [
        "a wrongly typed field",
        JSON.stringify({ version: 1, tokens: { "p/a": { access_token: 5 } } }),
        /tokens\["p\/a"\]\.access_token: expected a string/,
      ],
      [
        "a date that is not RFC 3339",
        JSON.stringify({
          version: 1,
          tokens: { "p/a": { access_token: "x", expires_at: "tomorrow" } },
        }),
        /tokens\["p\/a"\]\.expires_at: expected an RFC 3339 date-time string/,
      ],
      [
        "a nested wrong type",
        JSON.stringify({
          version: 1,
          tokens: {
            ok: { access_token: "x", rotation: { created_at: 1, marked_for_rotation: "no" } },
          },
        }),
        /tokens\.ok\.rotation\.created_at: .*tokens\.ok\.rotation\.marked_for_rotation: expected true or false/,
      ],
      [
        "provider data of the wrong type",
        JSON.stringify({
          version: 1,
          tokens: { "p/a": { access_token: "x", provider_data: { resource_url: 5 } } },
        }),
        /tokens\["p\/a"\]\.provider_data\.resource_url: expected a string/,
      ],
      [
        "a null token",
        JSON.stringify({ version: 1, tokens: { "p/a": null } }),
        /expected an object/,
      ],
      [
        "tokens null",
        JSON.stringify({ version: 1, tokens: null }),
        /tokens: expected an object, got null/,
      ],
      [
        "a newer format",
        JSON.stringify({ version: 2, tokens: {} }),
        /written by a newer oauthmanager/,
      ],
    ];

    it.each(cases)(
      "%s: every call rejects naming the file, a .corrupt copy is kept, nothing is overwritten",
      async (_name, content, expected) => {
        await fsp.writeFile(file, content, { mode: 0o600 });
        const store = open();
        const err = await store.load("p/a").catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StoreError);
        const storeErr = err as StoreError;
        expect(storeErr.code).toBe("STORE_FAILED");
        expect(storeErr.path).toBe(file);
        expect(storeErr.message).toContain(file);
        expect(storeErr.message).toMatch(/is corrupt/);
        expect(storeErr.message).toMatch(expected);
        expect(storeErr.message).not.toContain("ya29");
        expect(await fsp.readFile(`${file}.corrupt`, "utf8")).toBe(content);
        expect(mode(await fsp.stat(`${file}.corrupt`))).toBe(0o600);

        await expect(store.save("p/a", secretToken())).rejects.toThrow(storeErr.message);
        await expect(store.save("p/b", secretToken())).rejects.toThrow(storeErr.message);
        await expect(store.delete("p/a")).rejects.toThrow(storeErr.message);
        await expect(store.loadAll("")).rejects.toThrow(storeErr.message);
        expect(await fsp.readFile(file, "utf8")).toBe(content);
        expect(await fsp.readFile(`${file}.corrupt`, "utf8")).toBe(content);
        const names = await fsp.readdir(dir);
        expect(names.filter((n) => n.includes("corrupt"))).toEqual(["tokens.json.corrupt"]);
      },
    );

    it("never replaces an earlier, different .corrupt copy", async () => {
      await fsp.writeFile(file, "{ first", { mode: 0o600 });
      const store = open();
      await expect(store.load("p/a")).rejects.toThrow(/corrupt/);
      await fsp.writeFile(file, "{ second", { mode: 0o600 });
      await expect(store.load("p/a")).rejects.toThrow(/tokens\.json\.corrupt\.1/);
      expect(await fsp.readFile(`${file}.corrupt`, "utf8")).toBe("{ first");
      expect(await fsp.readFile(`${file}.corrupt.1`, "utf8")).toBe("{ second");
    });

    it("works again once the user removes the bad file", async () => {
      await fsp.writeFile(file, "garbage", { mode: 0o600 });
      const store = open();
      await expect(store.save("p/a", secretToken())).rejects.toThrow(StoreError);
      await fsp.rm(file);
      await expect(store.save("p/a", secretToken())).resolves.toMatchObject({ version: 1 });
    });
  });

  describe("encryption at rest", () => {
    const key = randomBytes(32);

    it("round-trips, and the raw file holds no token, only the documented envelope", async () => {
      const store = open({ encryptionKey: key.toString("base64") });
      expect(store.encrypted).toBe(true);
      await store.save("p/a", secretToken());
      const raw = await fsp.readFile(file, "utf8");
      expect(raw).not.toContain(SECRET_ACCESS);
      expect(raw).not.toContain(SECRET_REFRESH);
      // Quoted, as the key would be in plain JSON: base64 has no quote, but may spell p/a.
      expect(raw).not.toContain('"p/a"');
      const doc = JSON.parse(raw);
      expect(Object.keys(doc)).toEqual(["version", "encrypted"]);
      expect(doc.version).toBe(1);
      expect(doc.encrypted).toMatchObject({ alg: "A256GCM" });
      expect(Buffer.from(doc.encrypted.iv, "base64")).toHaveLength(12);
      expect(Buffer.from(doc.encrypted.tag, "base64")).toHaveLength(16);

      const reopened = open({ encryptionKey: new Uint8Array(key) });
      await expect(reopened.load("p/a")).resolves.toStrictEqual({ ...secretToken(), version: 1 });
    });

    it("uses a fresh IV on every write", async () => {
      const store = open({ encryptionKey: key });
      await store.save("p/a", secretToken());
      const first = JSON.parse(await fsp.readFile(file, "utf8")).encrypted.iv;
      await store.save("p/a", secretToken());
      const second = JSON.parse(await fsp.readFile(file, "utf8")).encrypted.iv;
      expect(second).not.toBe(first);
    });

    it("a wrong key: a clear StoreError, and the file stays byte-for-byte the same", async () => {
      await open({ encryptionKey: key }).save("p/a", secretToken());
      const before = await fsp.readFile(file);
      const wrong = open({ encryptionKey: randomBytes(32).toString("hex") });
      const err = await wrong.load("p/a").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).message).toMatch(
        new RegExp(
          `cannot decrypt ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: the encryption key is wrong or the file was tampered with`,
        ),
      );
      await expect(wrong.save("p/a", { accessToken: "overwrite?" })).rejects.toThrow(
        /cannot decrypt/,
      );
      await expect(wrong.delete("p/a")).rejects.toThrow(/cannot decrypt/);
      expect((await fsp.readFile(file)).equals(before)).toBe(true);
      // The right key still reads it.
      await expect(open({ encryptionKey: key }).load("p/a")).resolves.toMatchObject({ version: 1 });
    });

    it("a tampered file fails the tag check the same way", async () => {
      await open({ encryptionKey: key }).save("p/a", secretToken());
      const doc = JSON.parse(await fsp.readFile(file, "utf8"));
      const data = Buffer.from(doc.encrypted.data, "base64");
      data[3] = (data[3] ?? 0) ^ 0x20;
      doc.encrypted.data = data.toString("base64");
      await fsp.writeFile(file, JSON.stringify(doc));
      await expect(open({ encryptionKey: key }).load("p/a")).rejects.toThrow(/tampered/);
    });

    it("an encrypted file without a key is its own error, not corrupt and not empty", async () => {
      await open({ encryptionKey: key }).save("p/a", secretToken());
      const before = await fsp.readFile(file);
      const plain = open();
      await expect(plain.load("p/a")).rejects.toThrow(
        /is encrypted but no encryption key was given/,
      );
      await expect(plain.save("p/b", { accessToken: "x" })).rejects.toThrow(/no encryption key/);
      expect((await fsp.readFile(file)).equals(before)).toBe(true);
    });

    it("missing, corrupt and undecryptable are three different outcomes", async () => {
      const store = open({ encryptionKey: key });
      await expect(store.load("p/a")).resolves.toBeUndefined();
      await fsp.writeFile(file, "{");
      const corrupt = await store.load("p/a").catch((e: unknown) => (e as Error).message);
      await fsp.rm(file);
      await fsp.rm(`${file}.corrupt`);
      await open({ encryptionKey: randomBytes(32) }).save("p/a", secretToken());
      const undecryptable = await store.load("p/a").catch((e: unknown) => (e as Error).message);
      expect(corrupt).toMatch(/is corrupt/);
      expect(undecryptable).toMatch(/cannot decrypt/);
      expect(undecryptable).not.toMatch(/is corrupt/);
    });

    it("takes the key from OAUTHMANAGER_ENCRYPTION_KEY when no option is given", async () => {
      vi.stubEnv("OAUTHMANAGER_ENCRYPTION_KEY", key.toString("hex"));
      try {
        const store = open();
        expect(store.encrypted).toBe(true);
        await store.save("p/a", secretToken());
        expect(await fsp.readFile(file, "utf8")).not.toContain(SECRET_ACCESS);
        await expect(open({ encryptionKey: key }).load("p/a")).resolves.toMatchObject({
          accessToken: SECRET_ACCESS,
        });
        vi.stubEnv("OAUTHMANAGER_ENCRYPTION_KEY", "too-short-secret");
        let err: unknown;
        try {
          open();
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).issues[0]?.path).toBe("OAUTHMANAGER_ENCRYPTION_KEY");
        expect(String((err as Error).message)).not.toContain("too-short-secret");
      } finally {
        vi.unstubAllEnvs();
      }
    });

    it("rejects a key that is not 32 bytes with a ConfigError that does not echo it", () => {
      for (const bad of ["hunter2-hunter2", randomBytes(16).toString("hex"), new Uint8Array(31)]) {
        let err: unknown;
        try {
          open({ encryptionKey: bad });
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(ConfigError);
        if (typeof bad === "string") expect((err as Error).message).not.toContain(bad);
      }
    });

    it("reads a plain file with a key configured, warns, and encrypts it on the next save", async () => {
      await open().save("p/a", secretToken());
      const store = open({ encryptionKey: key });
      await expect(store.load("p/a")).resolves.toMatchObject({ accessToken: SECRET_ACCESS });
      expect(logger.warn).toHaveBeenCalledWith(expect.stringMatching(/not encrypted/));
      await store.save("p/b", { accessToken: "b" });
      expect(await fsp.readFile(file, "utf8")).not.toContain(SECRET_ACCESS);
    });
  });

  describe("file modes: 0700 directory, 0600 file", () => {
    it("creates the directory 0700 and the file 0600", async () => {
      const nested = path.join(dir, "a", "b", "tokens.json");
      await open({ path: nested }).save("p/a", secretToken());
      expect(mode(await fsp.stat(path.dirname(nested)))).toBe(0o700);
      expect(mode(await fsp.stat(path.join(dir, "a")))).toBe(0o700);
      expect(mode(await fsp.stat(nested))).toBe(0o600);
    });

    it("tightens a pre-existing 0644 file in a 0755 directory, even on a read", async () => {
      const sub = path.join(dir, "existing");
      await fsp.mkdir(sub);
      await fsp.chmod(sub, 0o755);
      const target = path.join(sub, "tokens.json");
      await fsp.writeFile(target, JSON.stringify({ version: 1, tokens: {} }));
      await fsp.chmod(target, 0o644);
      const store = open({ path: target });
      await store.load("p/a");
      expect(mode(await fsp.stat(sub))).toBe(0o700);
      expect(mode(await fsp.stat(target))).toBe(0o600);

      await fsp.chmod(target, 0o644);
      await store.save("p/a", secretToken());
      expect(mode(await fsp.stat(target))).toBe(0o600);
    });

    describe("a token path that is a symbolic link", () => {
      let elsewhere: string;
      let target: string;
      const content = JSON.stringify({ version: 1, tokens: { "p/a": { access_token: "theirs" } } });

      beforeEach(async () => {
        elsewhere = await tempDir();
        target = path.join(elsewhere, "tokens.json");
        await fsp.writeFile(target, content);
        await fsp.chmod(target, 0o644);
      });

      afterEach(async () => {
        await fsp.rm(elsewhere, { recursive: true, force: true });
      });

      /** The link is still a link, and the file it points to is as it was. */
      async function expectUntouched(): Promise<void> {
        expect((await fsp.lstat(file)).isSymbolicLink()).toBe(true);
        expect(mode(await fsp.stat(target))).toBe(0o644);
        expect(await fsp.readFile(target, "utf8")).toBe(content);
      }

      it("is refused with a StoreError saying what to do; the target keeps its mode", async () => {
        await fsp.symlink(target, file);
        const store = open();
        const err = await store.load("p/a").catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StoreError);
        expect((err as StoreError).path).toBe(file);
        expect((err as StoreError).message).toMatch(/is a symbolic link.*Set `path` to the file/);
        await expect(store.save("p/a", secretToken())).rejects.toThrow(/is a symbolic link/);
        await expect(store.loadAll("")).rejects.toThrow(/is a symbolic link/);
        await expectUntouched();
      });

      it("is refused when it replaces the file after the store has opened", async () => {
        const store = open();
        await store.save("p/a", secretToken());
        await fsp.rm(file);
        await fsp.symlink(target, file);
        await expect(store.load("p/a")).rejects.toThrow(/is a symbolic link/);
        await expect(store.save("p/a", secretToken())).rejects.toThrow(/is a symbolic link/);
        await expectUntouched();
      });
    });

    it("leaves a shared sticky directory alone and warns", async () => {
      const shared = path.join(dir, "shared");
      await fsp.mkdir(shared);
      await fsp.chmod(shared, 0o1777);
      const store = open({ path: path.join(shared, "tokens.json") });
      await store.save("p/a", secretToken());
      expect((await fsp.stat(shared)).mode & 0o7777).toBe(0o1777);
      expect(mode(await fsp.stat(path.join(shared, "tokens.json")))).toBe(0o600);
      expect(logger.warn).toHaveBeenCalledWith(expect.stringMatching(/shared/));
    });
  });

  describe("atomic writes: a crash leaves the old file or the new one", () => {
    /** The real fs, except that writes through a handle stop half-way with `code`. */
    function failingWrites(code: string): FileStoreFs {
      return {
        ...fsp,
        open: (async (...args: Parameters<typeof fsp.open>) => {
          const handle = await fsp.open(...args);
          if (args[1] !== "wx") return handle;
          return new Proxy(handle, {
            get(target, prop) {
              if (prop === "writeFile") {
                return async (data: string) => {
                  await target.write(data.slice(0, Math.floor(data.length / 2)));
                  throw Object.assign(new Error(`${code}: injected`), { code });
                };
              }
              const value = Reflect.get(target, prop, target);
              return typeof value === "function" ? value.bind(target) : value;
            },
          });
        }) as typeof fsp.open,
      };
    }

    it("a write cut short leaves the old file intact and removes the temp file", async () => {
      await open().save("p/a", secretToken());
      const before = await fsp.readFile(file);
      const broken = open({ fs: failingWrites("ENOSPC") });
      const err = await broken.save("p/a", { accessToken: "new" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).message).toMatch(/ENOSPC.*file is unchanged/);
      expect((err as Error).message).not.toContain(SECRET_ACCESS);
      expect((await fsp.readFile(file)).equals(before)).toBe(true);
      expect(await fsp.readdir(dir)).toEqual(["tokens.json"]);
      await expect(open().load("p/a")).resolves.toMatchObject({ accessToken: SECRET_ACCESS });
    });

    it("a failed rename leaves the old file intact and removes the temp file", async () => {
      await open().save("p/a", secretToken());
      const before = await fsp.readFile(file);
      const broken = open({
        fs: {
          ...fsp,
          rename: async () => {
            throw Object.assign(new Error("EXDEV: injected"), { code: "EXDEV" });
          },
        },
      });
      await expect(broken.save("p/a", { accessToken: "new" })).rejects.toThrow(/EXDEV/);
      expect((await fsp.readFile(file)).equals(before)).toBe(true);
      expect(await fsp.readdir(dir)).toEqual(["tokens.json"]);
    });

    it("removes temp files left by dead writers, under the file lock, not those of live ones", async () => {
      const dead = spawnSync(process.execPath, ["-e", ""]).pid;
      const deadTmp = path.join(dir, `tokens.json.${dead}.0123456789ab.tmp`);
      const liveTmp = path.join(dir, `tokens.json.${process.ppid}.0123456789ab.tmp`);
      const unrelated = path.join(dir, "other.json.1.0123456789ab.tmp");
      for (const f of [deadTmp, liveTmp, unrelated]) await fsp.writeFile(f, "x", { mode: 0o600 });
      const store = open();
      await store.load("p/a");
      expect(await fsp.readdir(dir)).toContain(path.basename(deadTmp)); // only under the lock
      await store.delete("p/a");
      const names = await fsp.readdir(dir);
      expect(names).not.toContain(path.basename(deadTmp));
      expect(names).toContain(path.basename(liveTmp));
      expect(names).toContain(path.basename(unrelated));
    });

    it("concurrent saves of many keys, from two instances, lose no update", async () => {
      const a = open();
      const b = open();
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? a : b).save(`p/${i}`, { accessToken: `t${i}` }),
        ),
      );
      const all = await open().loadAll("p/");
      expect(all.size).toBe(20);
      expect(all.get("p/7")).toMatchObject({ accessToken: "t7", version: 1 });
    });
  });

  describe("timeouts and cross-process locks", () => {
    it("a read that hangs rejects with a StoreError after timeoutMs", async () => {
      const hanging: FileStoreFs = { ...fsp, readFile: (() => new Promise(() => {})) as never };
      const store = open({ fs: hanging, timeoutMs: 30 });
      const err = await store.load("p/a").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).message).toMatch(/load timed out after 30 ms/);
      await expect(store.save("p/a", { accessToken: "x" })).rejects.toThrow(/save timed out/);
    });

    it("withLock waits for a holder in another instance, and times out with a StoreError", async () => {
      const a = open();
      const b = open();
      let release!: () => void;
      const held = new Promise<void>((r) => {
        release = r;
      });
      let entered!: () => void;
      const inside = new Promise<void>((r) => {
        entered = r;
      });
      const holder = a.withLock("p/k", async () => {
        entered();
        await held;
      });
      await inside;
      const err = await b.withLock("p/k", async () => 1, { timeoutMs: 150 }).catch((e) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).message).toMatch(/waiting for the lock on p\/k/);

      const reason = new Error("stop waiting");
      const controller = new AbortController();
      const aborted = b.withLock("p/k", async () => 1, { signal: controller.signal });
      controller.abort(reason);
      await expect(aborted).rejects.toBe(reason);

      const waiter = b.withLock("p/k", async () => "got it", { timeoutMs: 10_000 });
      release();
      await holder;
      await expect(waiter).resolves.toBe("got it");
    });

    it("takes over a stale lock left by a dead process", async () => {
      const store = open({ lockStaleMs: 2_000 });
      const hash = createHash("sha256").update("p/k").digest("hex").slice(0, 16);
      const keyLock = `${file}.${hash}.lock`;
      await fsp.mkdir(keyLock);
      await fsp.mkdir(`${file}.lock`);
      const past = new Date(Date.now() - 60_000);
      await fsp.utimes(keyLock, past, past);
      await fsp.utimes(`${file}.lock`, past, past);
      await expect(
        store.withLock("p/k", async () => store.save("p/k", { accessToken: "x" }), {
          timeoutMs: 5_000,
        }),
      ).resolves.toMatchObject({ version: 1 });
      await expect(fsp.stat(keyLock)).rejects.toMatchObject({ code: "ENOENT" });
    });

    it("recreates a directory removed while the store is open", async () => {
      const nested = path.join(dir, "gone", "tokens.json");
      const store = open({ path: nested });
      await store.save("p/a", { accessToken: "a" });
      await fsp.rm(path.dirname(nested), { recursive: true });
      await expect(store.save("p/b", { accessToken: "b" })).resolves.toMatchObject({ version: 1 });
      expect(mode(await fsp.stat(path.dirname(nested)))).toBe(0o700);
    });

    it("releases its lock files after use", async () => {
      const store = open();
      await store.withLock("p/k", async () => store.save("p/k", { accessToken: "x" }));
      expect(await fsp.readdir(dir)).toEqual(["tokens.json"]);
    });

    it("close waits for a save in flight", async () => {
      const store = open();
      const saving = store.save("p/a", secretToken());
      await store.close();
      await expect(saving).resolves.toMatchObject({ version: 1 });
      await expect(fsp.readFile(file, "utf8")).resolves.toContain("p/a");
    });
  });

  describe("options", () => {
    it("rejects a bad path, timeout or stale time", () => {
      expect(() => new FileTokenStore({ path: "" })).toThrow(TypeError);
      expect(() => new FileTokenStore(undefined as never)).toThrow(TypeError);
      expect(() => new FileTokenStore({ path: file, timeoutMs: 0 })).toThrow(RangeError);
      expect(() => new FileTokenStore({ path: file, lockStaleMs: 500 })).toThrow(
        /lockStaleMs.*from 2000/,
      );
    });

    it("resolves a relative path", () => {
      const store = new FileTokenStore({ path: "tokens.json" });
      expect(store.path).toBe(path.resolve("tokens.json"));
    });
  });
});
