import { spawnSync } from "node:child_process";
import * as fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { StoreError } from "../errors.js";
import type { Logger } from "../types.js";
import {
  type AcquireOptions,
  acquireFileLock,
  HOLDER_FILE,
  type LockHolder,
  parseHolder,
  thisHolder,
} from "./file-lock.js";

const hooks = vi.hoisted(() => ({
  /** Runs once, just before the next takeover guard is made. */
  beforeTakeoverGuard: undefined as (() => Promise<void>) | undefined,
}));

vi.mock("node:fs/promises", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs/promises")>();
  const mkdir = (async (...args: Parameters<typeof real.mkdir>) => {
    const hook = hooks.beforeTakeoverGuard;
    if (hook && String(args[0]).endsWith(".takeover")) {
      hooks.beforeTakeoverGuard = undefined;
      await hook();
    }
    return real.mkdir(...args);
  }) as typeof real.mkdir;
  return { ...real, mkdir, default: { ...real, mkdir } };
});

/** A pid that no process has any more: a child that already exited. */
const deadPid = () => spawnSync(process.execPath, ["-e", ""]).pid;

describe("acquireFileLock", () => {
  let dir: string;
  let target: string;
  let lockDir: string;
  let logger: { warn: ReturnType<typeof vi.fn<Logger["warn"]>>; error: Logger["error"] };

  const options = (overrides: Partial<AcquireOptions> = {}): AcquireOptions => ({
    staleMs: 60_000,
    deadline: performance.now() + 5_000,
    timeoutError: () => new Error("lock timeout"),
    logger,
    guarded: target,
    ...overrides,
  });
  /** Fails fast while the lock is respected; the stale age is far longer. */
  const briefly = () => options({ deadline: performance.now() + 300 });

  /** A lock directory as another process leaves it, with its holder file. */
  async function leaveLock(holder: Partial<LockHolder> | string, ageMs = 0): Promise<void> {
    await fsp.mkdir(lockDir);
    const text =
      typeof holder === "string"
        ? holder
        : JSON.stringify({ ...thisHolder(), instance: "someone-else", ...holder });
    await fsp.writeFile(path.join(lockDir, HOLDER_FILE), text);
    if (ageMs > 0) await age(lockDir, ageMs);
  }

  async function age(p: string, ms: number): Promise<void> {
    const past = new Date(Date.now() - ms);
    await fsp.utimes(p, past, past);
  }

  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), "oauthmanager-file-lock-"));
    target = path.join(dir, "tokens.json");
    lockDir = `${target}.lock`;
    logger = { warn: vi.fn<Logger["warn"]>(), error: vi.fn<Logger["error"]>() };
  });

  afterEach(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it("names its holder inside the lock while held, and leaves nothing behind on release", async () => {
    const release = await acquireFileLock(target, options());
    const holder = parseHolder(await fsp.readFile(path.join(lockDir, HOLDER_FILE), "utf8"));
    expect(holder).toStrictEqual(thisHolder());
    expect(holder?.pid).toBe(process.pid);
    expect(holder?.hostname).toBe(os.hostname());
    await release();
    expect(await fsp.readdir(dir)).toEqual([]);
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it("takes over at once a lock whose holder on this host is no longer running", async () => {
    const pid = deadPid();
    await leaveLock({ pid });
    const release = await acquireFileLock(target, briefly());
    expect(parseHolder(await fsp.readFile(path.join(lockDir, HOLDER_FILE), "utf8"))?.pid).toBe(
      process.pid,
    );
    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringContaining(`process ${pid}, is no longer running`),
    );
    await release();
    expect(await fsp.readdir(dir)).toEqual([]);
  });

  it("respects a lock whose holder is alive, until it goes stale", async () => {
    await leaveLock({ pid: process.ppid });
    await expect(acquireFileLock(target, briefly())).rejects.toThrow("lock timeout");
    await age(lockDir, 120_000);
    const release = await acquireFileLock(target, briefly());
    expect(logger.warn).toHaveBeenCalledWith(expect.stringMatching(/not refreshed for over 60000/));
    await release();
  });

  it("counts this process's own pid as alive, whichever copy of the module wrote it", async () => {
    await leaveLock({ pid: process.pid, instance: "another-copy" });
    await expect(acquireFileLock(target, briefly())).rejects.toThrow("lock timeout");
  });

  it.each([
    ["another hostname", { hostname: `not-${os.hostname()}` }],
    ["the same hostname in another pid namespace", { pidNamespace: "pid:[1]" }],
  ])("cannot tell for a holder on %s: only staleness frees it", async (_name, where) => {
    await leaveLock({ pid: deadPid(), ...where });
    await expect(acquireFileLock(target, briefly())).rejects.toThrow("lock timeout");
    await age(lockDir, 120_000);
    await (await acquireFileLock(target, briefly()))();
  });

  it.each([
    ["no holder file (its holder died right after making it)", undefined],
    ["a half-written holder file", '{"pid": 12'],
    ["a holder file of another shape", '{"pid": "12"}'],
  ])("%s: only staleness frees it", async (_name, text) => {
    await fsp.mkdir(lockDir);
    if (text !== undefined) await fsp.writeFile(path.join(lockDir, HOLDER_FILE), text);
    await expect(acquireFileLock(target, briefly())).rejects.toThrow("lock timeout");
    await age(lockDir, 120_000);
    await (await acquireFileLock(target, briefly()))();
  });

  it("waits while another waiter is taking over, and clears a takeover guard its owner left", async () => {
    await leaveLock({ pid: deadPid() });
    await fsp.mkdir(`${lockDir}.takeover`);
    await expect(acquireFileLock(target, briefly())).rejects.toThrow("lock timeout");
    await age(`${lockDir}.takeover`, 120_000);
    await (await acquireFileLock(target, briefly()))();
    expect(await fsp.readdir(dir)).toEqual([]);
  });

  it("re-checks under the takeover guard: a lock taken anew meanwhile is left alone", async () => {
    await leaveLock({ pid: deadPid() });
    // Another waiter removes the dead lock and locks anew between this one's check and its guard.
    hooks.beforeTakeoverGuard = async () => {
      await fsp.rm(lockDir, { recursive: true });
      await leaveLock({ pid: process.ppid, instance: "the-new-holder" });
    };
    await expect(acquireFileLock(target, briefly())).rejects.toThrow("lock timeout");
    expect(hooks.beforeTakeoverGuard).toBeUndefined();
    expect(parseHolder(await fsp.readFile(path.join(lockDir, HOLDER_FILE), "utf8"))).toMatchObject({
      instance: "the-new-holder",
    });
  });

  it("a release never removes a lock that another process has taken over since", async () => {
    const release = await acquireFileLock(target, options());
    await fsp.rm(lockDir, { recursive: true });
    await leaveLock({ pid: process.ppid, instance: "the-new-holder" });
    await release();
    expect(parseHolder(await fsp.readFile(path.join(lockDir, HOLDER_FILE), "utf8"))).toMatchObject({
      instance: "the-new-holder",
    });
    expect(logger.warn).toHaveBeenCalledWith(expect.stringMatching(/could not release.*ENOTEMPTY/));
  });

  it("reports a lock directory it cannot make as a StoreError naming the guarded file", async () => {
    const err = await acquireFileLock(path.join(dir, "missing", "tokens.json"), options()).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).message).toMatch(/cannot lock .*ENOENT/);
    expect((err as StoreError).path).toBe(target);
  });
});
