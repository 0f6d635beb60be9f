/**
 * A refresh that timed out may have succeeded on the server: a provider that rotates refresh
 * tokens has then spent the one sent. Before sending it again the manager re-reads its store,
 * where another process may have put the new one, and takes that instead, even when the other
 * process's clock is behind this one's.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { OAuthKeyManager } from "../src/manager/oauth-key-manager.js";
import { MemoryTokenStore } from "../src/stores/memory-store.js";
import type { OAuthCredentialSet, RefreshFunc } from "../src/types.js";

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const HOUR = 60 * MIN;
const TIMEOUT_MS = 1_000;
const quiet = { warn() {}, error() {} };

/**
 * A token endpoint that rotates refresh tokens with a reuse grace (as some providers do): a spent
 * refresh token presented again soon after gets the same answer. It records every refresh token
 * it receives, by caller; `loseNextAnswer` makes it rotate and then never answer (a lost reply).
 */
function rotatingEndpoint() {
  let counter = 0;
  const valid = new Set(["rt-0"]);
  const graceAnswer = new Map<string, { accessToken: string; refreshToken: string }>();
  const received: string[] = [];
  let loseNext = false;
  const exchange = (presented: string) => {
    const replay = graceAnswer.get(presented);
    if (replay) {
      graceAnswer.delete(presented); // one reuse only: the next one is theft
      return replay;
    }
    if (!valid.has(presented)) {
      throw Object.assign(new Error("token endpoint answered 400"), {
        status: 400,
        oauthError: "invalid_grant",
      });
    }
    counter++;
    valid.delete(presented);
    const answer = { accessToken: `at-${counter}`, refreshToken: `rt-${counter}` };
    valid.add(answer.refreshToken);
    graceAnswer.set(presented, answer);
    return answer;
  };
  const refreshFunc =
    (who: string, now: () => number): RefreshFunc =>
    async (cred, signal): Promise<OAuthCredentialSet> => {
      received.push(`${who}:${cred.refreshToken}`);
      const answer = exchange(cred.refreshToken ?? "");
      if (loseNext) {
        loseNext = false;
        // Rotated on the server; the reply never arrives, the call ends only when abandoned.
        return new Promise((_, reject) => {
          signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        });
      }
      return { ...cred, ...answer, expiresAt: new Date(now() + HOUR) };
    };
  return {
    received,
    refreshFunc,
    loseNextAnswer() {
      loseNext = true;
    },
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("after a refresh timed out, the store is re-read before the refresh token is sent again", () => {
  it("takes the token another manager stored, even with that manager's clock behind, and never resends the spent one", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const store = new MemoryTokenStore();
    const endpoint = rotatingEndpoint();
    // Two machines sharing the store: A's clock runs 10 minutes ahead of B's.
    let t = T0;
    const nowA = () => t + 10 * MIN;
    const nowB = () => t;
    const cred = (): OAuthCredentialSet => ({
      id: "c",
      accessToken: "",
      refreshToken: "rt-0",
    });
    const options = { store, logger: quiet, refreshTimeoutMs: TIMEOUT_MS };
    const a = new OAuthKeyManager("P", [cred()], endpoint.refreshFunc("A", nowA), {
      ...options,
      now: nowA,
    });
    const b = new OAuthKeyManager("P", [cred()], endpoint.refreshFunc("B", nowB), {
      ...options,
      now: nowB,
    });
    await a.ready();
    await b.ready();

    // A refreshes first (rt-0 → rt-1), and B takes that from the store.
    await a.refreshCredential("c");
    t += MIN;
    expect((await b.refreshCredential("c")).accessToken).toBe("at-1");

    // A's next refresh rotates rt-1 → rt-2 on the server, but the answer is lost: it times out.
    t += MIN;
    endpoint.loseNextAnswer();
    const timedOut = a.refreshCredential("c", { force: true }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
    expect(String(await timedOut)).toMatch(/timed out/);

    // B refreshes within the provider's reuse grace and stores rt-2 (stamped by its slower clock).
    t += MIN;
    expect((await b.refreshCredential("c", { force: true })).accessToken).toBe("at-2");
    expect((await store.load("P/c"))?.refreshToken).toBe("rt-2");

    // A's next refresh takes B's tokens: rt-1 is never sent by A again.
    t += MIN;
    const refreshed = await a.refreshCredential("c", { force: true });
    expect(endpoint.received).toEqual(["A:rt-0", "A:rt-1", "B:rt-1"]);
    expect(refreshed).toMatchObject({ accessToken: "at-2", refreshToken: "rt-2" });
    expect(a.getCredentialHealthInfo("c")?.state).toBe("healthy");
    await Promise.all([a.close(), b.close()]);
  });

  it("does not take a record that was already in the store when the refresh timed out", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const store = new MemoryTokenStore();
    const endpoint = rotatingEndpoint();
    let t = T0;
    const now = () => t;
    const a = new OAuthKeyManager(
      "P",
      [{ id: "c", accessToken: "", refreshToken: "rt-0" }],
      endpoint.refreshFunc("A", now),
      { store, logger: quiet, refreshTimeoutMs: TIMEOUT_MS, now },
    );
    await a.ready();
    await a.refreshCredential("c");
    // Someone wrote an old refresh token over the record before A's exchange was abandoned.
    await store.save("P/c", { accessToken: "old", refreshToken: "rt-stale" });

    t += MIN;
    endpoint.loseNextAnswer();
    const timedOut = a.refreshCredential("c", { force: true }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
    await timedOut;

    t += MIN;
    await a.refreshCredential("c", { force: true }).catch(() => {});
    expect(endpoint.received).toEqual(["A:rt-0", "A:rt-1", "A:rt-1"]);
    await a.close();
  });

  it("without a store, the next refresh sends the same refresh token as before", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const endpoint = rotatingEndpoint();
    const now = () => T0;
    const a = new OAuthKeyManager(
      "P",
      [{ id: "c", accessToken: "", refreshToken: "rt-0" }],
      endpoint.refreshFunc("A", now),
      { logger: quiet, refreshTimeoutMs: TIMEOUT_MS, now, minRefreshIntervalMs: 0 },
    );
    endpoint.loseNextAnswer();
    const timedOut = a.refreshCredential("c").catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
    await timedOut;
    // The reuse grace answers the resent token: the credential recovers.
    expect((await a.refreshCredential("c")).accessToken).toBe("at-1");
    expect(endpoint.received).toEqual(["A:rt-0", "A:rt-0"]);
    await a.close();
  });
});
