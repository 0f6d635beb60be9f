/**
 * Crash safety of FileTokenStore: writers saving in a tight loop are killed
 * with SIGKILL at random points; after every kill the file must parse and hold only complete
 * tokens, each exactly as some save wrote it, and every save that had resolved must be there.
 */
import { randomBytes, randomInt } from "node:crypto";
import * as fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StoreError } from "../src/errors.js";
import { FileTokenStore } from "../src/stores/file-store.js";
import { type Child, startChild } from "./fixtures/store-child.js";
import { originOf, tokenFor } from "./fixtures/store-tokens.js";

const SINGLE_WRITER_KILLS = 30;
const TWO_WRITER_KILLS = 10;
const ENCRYPTED_KILLS = 6;
const TEST_TIMEOUT_MS = 180_000;

let root: string;
const encryptionKey = randomBytes(32).toString("hex");
const children = new Set<Child>();
const quiet = { warn: () => {}, error: () => {} };

beforeAll(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), "oauthmanager-crash-"));
});

afterAll(async () => {
  for (const c of children) c.process.kill("SIGKILL");
  await Promise.all([...children].map((c) => c.exited));
  await fsp.rm(root, { recursive: true, force: true });
});

/** Acks each writer had printed when it was killed: saves that had resolved. */
type Acked = Map<string, number>;

async function killRound(file: string, writerIds: string[], key?: string): Promise<Acked> {
  const writers = writerIds.map((id) => {
    const child = startChild("store-writer.ts", key ? [file, id, key] : [file, id]);
    children.add(child);
    return { id, child };
  });
  // A random number of completed saves, then SIGKILL while the loop is mid-flight: where the
  // kill lands (in the lock, the temp write, the fsync, the rename…) is up to the scheduler.
  await Promise.all(writers.map(({ child }) => child.waitForLines(randomInt(1, 8))));
  for (const { child } of writers) child.process.kill("SIGKILL");
  const acked: Acked = new Map();
  for (const { id, child } of writers) {
    const { signal } = await child.exited;
    children.delete(child);
    expect(signal, child.stderr()).toBe("SIGKILL");
    acked.set(id, Math.max(0, ...child.lines.map(Number)));
  }
  // A dead writer may have held the file lock: the next writers and checkFile take it over.
  return acked;
}

/**
 * Every token complete, as written; every acknowledged save present; temp files a kill left
 * behind (it landed between open and rename) are 0600 and gone once a store has run.
 */
async function checkFile(file: string, acked: Acked, key?: string): Promise<void> {
  const dir = path.dirname(file);
  const temps = async () => (await fsp.readdir(dir)).filter((n) => n.endsWith(".tmp"));
  for (const t of await temps()) {
    expect((await fsp.stat(path.join(dir, t))).mode & 0o777).toBe(0o600);
  }
  expect((await fsp.stat(dir)).mode & 0o777).toBe(0o700);
  expect((await fsp.stat(file)).mode & 0o777).toBe(0o600);
  const raw = await fsp.readFile(file, "utf8");
  expect(() => JSON.parse(raw)).not.toThrow();
  const store = new FileTokenStore({
    path: file,
    logger: quiet,
    // A kill between making the lock and naming its holder in it leaves a lock only its age
    // frees: keep that age below the timeout.
    lockStaleMs: 2_000,
    ...(key ? { encryptionKey: key } : {}),
  });
  try {
    const all = await store.loadAll("");
    for (const [k, token] of all) {
      const origin = originOf(token);
      expect(origin, `${k} is not a token any writer wrote`).toBeDefined();
      if (!origin) continue;
      const { version, ...rest } = token;
      expect(rest, `${k} mixes two writes`).toStrictEqual(tokenFor(origin.writerId, origin.n));
      if (k.startsWith("w/")) {
        expect(k).toBe(`w/${origin.writerId}`);
        expect(version).toBe(origin.n);
      }
    }
    for (const [id, n] of acked) {
      if (n === 0) continue;
      const own = all.get(`w/${id}`);
      // A save that resolved was renamed into place before it resolved: it survives the kill.
      expect(
        own && originOf(own)?.n,
        `writer ${id} lost an acknowledged save`,
      ).toBeGreaterThanOrEqual(n);
    }
    // A delete of a missing key takes the file lock without writing: orphans go then.
    await store.delete("absent");
  } finally {
    await store.close();
  }
  expect(await temps()).toEqual([]);
}

describe("FileTokenStore under SIGKILL", () => {
  it(
    `one writer killed ${SINGLE_WRITER_KILLS} times: the file is always whole`,
    async () => {
      const file = path.join(root, "single", "tokens.json");
      const acked: Acked = new Map();
      for (let i = 0; i < SINGLE_WRITER_KILLS; i++) {
        for (const [id, n] of await killRound(file, ["a"]))
          acked.set(id, Math.max(n, acked.get(id) ?? 0));
        await checkFile(file, acked);
      }
      expect(acked.get("a")).toBeGreaterThanOrEqual(SINGLE_WRITER_KILLS);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    `two writers at once, killed together ${TWO_WRITER_KILLS} times: no mix, no lost save`,
    async () => {
      const file = path.join(root, "double", "tokens.json");
      const acked: Acked = new Map();
      for (let i = 0; i < TWO_WRITER_KILLS; i++) {
        for (const [id, n] of await killRound(file, ["a", "b"])) {
          acked.set(id, Math.max(n, acked.get(id) ?? 0));
        }
        await checkFile(file, acked);
      }
      const store = new FileTokenStore({ path: file, logger: quiet });
      expect([...(await store.loadAll("w/")).keys()].sort()).toEqual(["w/a", "w/b"]);
      await store.close();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    `an encrypted file killed ${ENCRYPTED_KILLS} times always decrypts`,
    async () => {
      const file = path.join(root, "encrypted", "tokens.json");
      const acked: Acked = new Map();
      for (let i = 0; i < ENCRYPTED_KILLS; i++) {
        for (const [id, n] of await killRound(file, ["e"], encryptionKey)) {
          acked.set(id, Math.max(n, acked.get(id) ?? 0));
        }
        await checkFile(file, acked, encryptionKey);
      }
      expect(await fsp.readFile(file, "utf8")).not.toContain("at.e.");
    },
    TEST_TIMEOUT_MS,
  );
});

describe("FileTokenStore after a lock holder is killed", () => {
  // Only detecting the dead holder can explain a save that succeeds within the timeout.
  const STALE_MS = 120_000;
  const TIMEOUT_MS = 10_000;

  it.each(["save", "withLock"] as const)(
    "a holder killed with SIGKILL in %s: the next process takes the lock at once",
    async (mode) => {
      const file = path.join(root, `killed-in-${mode}`, "tokens.json");
      const holder = startChild("store-lock-holder.ts", [file, mode]);
      children.add(holder);
      await holder.waitForLine((line) => line === "holding");
      const open = (timeoutMs: number) =>
        new FileTokenStore({ path: file, logger: quiet, timeoutMs, lockStaleMs: STALE_MS });
      const useLock = (store: FileTokenStore, timeoutMs: number) =>
        mode === "save"
          ? store.save("p/a", { accessToken: "after" })
          : store.withLock("p/k", async () => "locked", { timeoutMs });

      // While the holder lives, its lock is respected.
      const waiting = open(300);
      await expect(useLock(waiting, 300)).rejects.toBeInstanceOf(StoreError);
      await waiting.close();

      holder.process.kill("SIGKILL");
      expect((await holder.exited).signal).toBe("SIGKILL");
      children.delete(holder);
      const next = open(TIMEOUT_MS);
      try {
        await expect(useLock(next, TIMEOUT_MS)).resolves.toEqual(
          mode === "save" ? expect.objectContaining({ version: 1 }) : "locked",
        );
        const names = await fsp.readdir(path.dirname(file));
        expect(names.filter((n) => n.includes(".lock"))).toEqual([]);
      } finally {
        await next.close();
      }
    },
  );
});
