/**
 * Many refreshes at once, and many calls sharing one caller signal, never pile listeners on one
 * AbortSignal past Node's warning threshold; aborting still reaches every pending call.
 */
import { describe, expect, it } from "vitest";
import { OAuthKeyManager } from "../src/manager/oauth-key-manager.js";
import type { OAuthCredentialSet } from "../src/types.js";
import { captureWarnings } from "./support/warnings.js";

const quiet = { warn() {}, error() {} };
const warnings = captureWarnings();

const credentials = (n: number, accessToken: string): OAuthCredentialSet[] =>
  Array.from({ length: n }, (_, i) => ({ id: `c${i}`, accessToken, refreshToken: `rt-${i}` }));

describe("no MaxListenersExceededWarning", () => {
  it("50 concurrent refreshes of 50 credentials", async () => {
    const release: (() => void)[] = [];
    let started = 0;
    const m = new OAuthKeyManager(
      "P",
      credentials(50, ""),
      async (c) => {
        started++;
        await new Promise<void>((r) => release.push(r));
        return { ...c, accessToken: `fresh-${c.id}` };
      },
      { logger: quiet },
    );
    const refreshed = Array.from({ length: 50 }, (_, i) => m.refreshCredential(`c${i}`));
    await new Promise((r) => setImmediate(r));
    expect(started).toBe(50);
    for (const r of release) r();
    const tokens = (await Promise.all(refreshed)).map((c) => c.accessToken);
    expect(tokens).toEqual(Array.from({ length: 50 }, (_, i) => `fresh-c${i}`));
    await warnings.settled();
    expect(warnings.list.map((w) => w.name)).toEqual([]);
    await m.close();
  });

  it("close() still aborts 50 refreshes in flight", async () => {
    const m = new OAuthKeyManager(
      "P",
      credentials(50, ""),
      (_c, signal) =>
        new Promise<never>((_, reject) => {
          signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        }),
      { logger: quiet },
    );
    const refreshed = Array.from({ length: 50 }, (_, i) =>
      m
        .refreshCredential(`c${i}`)
        .catch((err: unknown) => `${(err as Error).name} (${(err as Error).cause})`),
    );
    await new Promise((r) => setImmediate(r));
    await m.close();
    expect(new Set(await Promise.all(refreshed))).toEqual(
      new Set(["RefreshError (ClosedError: OAuthKeyManager for P is closed)"]),
    );
    await warnings.settled();
    expect(warnings.list.map((w) => w.name)).toEqual([]);
  });

  it("50 concurrent calls sharing one signal; aborting it rejects each with signal.reason", async () => {
    const m = new OAuthKeyManager("P", credentials(5, "valid-token"), undefined, {
      logger: quiet,
    });
    const controller = new AbortController();
    const calls = Array.from({ length: 50 }, () =>
      m
        .executeWithFailover(() => new Promise<never>(() => {}), { signal: controller.signal })
        .catch((err: unknown) => err),
    );
    await new Promise((r) => setImmediate(r));
    const reason = new Error("caller gave up");
    controller.abort(reason);
    for (const outcome of await Promise.all(calls)) expect(outcome).toBe(reason);
    await warnings.settled();
    expect(warnings.list.map((w) => w.name)).toEqual([]);
    await m.close();
  });
});
