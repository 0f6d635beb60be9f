/**
 * Credentials a provider's CLI refreshes (`owner: "external"`): the manager never calls the
 * refresh function for them, re-reads their source file instead, and alerts when it stays stale.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { OAuthKeyManager } from "../src/manager/oauth-key-manager.js";
import { importCredentials } from "../src/providers/import.js";
import type { OAuthCredentialSet, WebhookEvent } from "../src/types.js";
import { alertsOnly, type Receiver, startReceiver } from "./support/webhook-receiver.js";

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const quiet = { warn() {}, error() {} };

let dir: string;
let file: string;
const receivers: Receiver[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "oauthmanager-external-"));
  file = join(dir, "oauth_creds.json");
});
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
  await rm(dir, { recursive: true, force: true });
});

/** Writes a Gemini CLI login file, as the CLI does after each of its refreshes. */
function writeLogin(accessToken: string, expiresAt: number): Promise<void> {
  return writeFile(
    file,
    JSON.stringify({
      access_token: accessToken,
      refresh_token: "cli-refresh-token",
      token_type: "Bearer",
      expiry_date: expiresAt,
    }),
  );
}

/** A credential configured with no token: its first one comes from the file. */
function setupWithout() {
  return setup({ accessToken: "" }, ["refreshToken"]);
}

function setup(cred: Partial<OAuthCredentialSet> = {}, without: (keyof OAuthCredentialSet)[] = []) {
  let now = T0;
  const refreshFunc = vi.fn(async (c: Readonly<OAuthCredentialSet>) => ({
    ...c,
    accessToken: "rotated-by-manager",
  }));
  const configured: OAuthCredentialSet = {
    id: "cli",
    accessToken: "token-1",
    refreshToken: "cli-refresh-token",
    expiresAt: new Date(T0 + 60 * MIN),
    owner: "external",
    source: { format: "gemini-cli", path: file },
    ...cred,
  };
  for (const key of without) delete configured[key];
  const manager = new OAuthKeyManager("gemini", [configured], refreshFunc, {
    now: () => now,
    logger: quiet,
    sourceRecheckMs: 10_000,
  });
  const seen: string[] = [];
  const op = async (c: Readonly<OAuthCredentialSet>) => {
    seen.push(c.accessToken);
    return { result: c.accessToken };
  };
  return {
    manager,
    refreshFunc,
    seen,
    op,
    advance: (ms: number) => {
      now += ms;
    },
    at: () => now,
  };
}

describe('owner: "external"', () => {
  it("is never passed to the refresh function; a due token is re-read from the file", async () => {
    await writeLogin("token-1", T0 + 60 * MIN);
    const { manager, refreshFunc, seen, op, advance, at } = setup();
    await manager.executeWithFailover(op);
    // Inside the 5 min buffer: the CLI has not refreshed yet, the valid token stays in use.
    advance(57 * MIN);
    await manager.executeWithFailover(op);
    // The CLI refreshes and rewrites its file; the next re-read (after the recheck interval) takes it.
    await writeLogin("token-2", at() + 60 * MIN);
    await manager.executeWithFailover(op);
    expect(seen).toEqual(["token-1", "token-1", "token-1"]);
    advance(10_000);
    await manager.executeWithFailover(op);
    expect(seen.at(-1)).toBe("token-2");
    expect(manager.getCredentials()[0]?.expiresAt?.getTime()).toBe(at() - 10_000 + 60 * MIN);
    await manager.refreshCredential("cli", { force: true });
    expect(refreshFunc).not.toHaveBeenCalled();
    await manager.close();
  });

  it("a 401 re-reads the file at once and retries with the CLI's newer token", async () => {
    await writeLogin("token-1", T0 + 60 * MIN);
    const { manager, refreshFunc } = setup();
    await writeLogin("token-2", T0 + 90 * MIN);
    const used: string[] = [];
    const out = await manager.executeWithFailover(async (c) => {
      used.push(c.accessToken);
      if (c.accessToken === "token-1") throw Object.assign(new Error("401"), { status: 401 });
      return { result: "ok" };
    });
    expect(out.result).toBe("ok");
    expect(used).toEqual(["token-1", "token-2"]);
    expect(refreshFunc).not.toHaveBeenCalled();
    await manager.close();
  });

  it("a 401 with the same token still in the file fails over without a refresh", async () => {
    await writeLogin("token-1", T0 + 60 * MIN);
    const { manager, refreshFunc } = setup();
    const attempt = manager.executeWithFailover(async () => {
      throw Object.assign(new Error("401"), { status: 401 });
    });
    await expect(attempt).rejects.toThrow(/failed/i);
    expect(refreshFunc).not.toHaveBeenCalled();
    expect(manager.getHealthSummary().credentials.cli?.failureCount).toBe(1);
    await manager.close();
  });

  it("takes its first token from the file when configured without one", async () => {
    await writeLogin("from-file", T0 + 60 * MIN);
    const { manager, seen, op } = setupWithout();
    await manager.executeWithFailover(op);
    expect(seen).toEqual(["from-file"]);
    await manager.close();
  });

  it("alerts (webhook and `alert` event) when the token expired and the file was not updated", async () => {
    const receiver = await startReceiver();
    receivers.push(receiver);
    await writeLogin("token-1", T0 + 60 * MIN);
    const { manager, refreshFunc, op, advance } = setup();
    manager.setMonitoringConfig(alertsOnly(receiver.url));
    const alerts: WebhookEvent[] = [];
    manager.on("alert", (a) => alerts.push(a));
    advance(61 * MIN);
    await expect(manager.executeWithFailover(op)).rejects.toThrow();
    expect(alerts.map((a) => a.details?.reason)).toEqual(["source_stale"]);
    await receiver.waitFor(1);
    const body = JSON.parse(receiver.received[0]?.body ?? "{}") as Record<string, unknown>;
    expect(body.type).toBe("failure");
    expect(JSON.stringify(body)).toContain("source_stale");
    expect(JSON.stringify(body)).not.toContain("token-1");
    // The CLI catches up: the file's newer token serves again, without any refresh call.
    await writeLogin("token-3", T0 + 200 * MIN);
    advance(10_000);
    const out = await manager.executeWithFailover(op);
    expect(out.result).toBe("token-3");
    expect(refreshFunc).not.toHaveBeenCalled();
    await manager.close();
  });

  it("the background upkeep re-reads a due external credential's file", async () => {
    vi.useFakeTimers({ now: T0 });
    try {
      await writeLogin("token-1", T0 + 10 * MIN);
      const refreshFunc = vi.fn();
      const manager = new OAuthKeyManager(
        "gemini",
        [
          {
            id: "cli",
            accessToken: "token-1",
            expiresAt: new Date(T0 + 10 * MIN),
            owner: "external",
            source: { format: "gemini-cli", path: file },
          },
        ],
        refreshFunc,
        { logger: quiet },
      );
      await writeLogin("token-2", T0 + 70 * MIN);
      const renewed = new Promise((resolve) => manager.on("refresh", resolve));
      manager.start();
      await vi.advanceTimersByTimeAsync(6 * MIN);
      await renewed;
      expect(manager.getCredentials()[0]?.accessToken).toBe("token-2");
      expect(refreshFunc).not.toHaveBeenCalled();
      await manager.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it("importCredentials marks a login the CLI keeps as external, with its source", async () => {
    await writeLogin("token-1", T0 + 60 * MIN);
    const [cred] = await importCredentials("gemini-cli", file, { owner: "external" });
    expect(cred?.owner).toBe("external");
    expect(cred?.source).toEqual({ format: "gemini-cli", path: file });
    const [plain] = await importCredentials("gemini-cli", file);
    expect(plain?.owner).toBeUndefined();
    expect(plain?.source).toBeUndefined();
  });

  it("refuses a source on a credential the manager refreshes, and an unknown format", () => {
    expect(
      () =>
        new OAuthKeyManager("gemini", [
          { id: "a", accessToken: "x", source: { format: "gemini-cli", path: file } },
        ]),
    ).toThrow(/only read for owner "external"/);
    expect(
      () =>
        new OAuthKeyManager("gemini", [
          {
            id: "a",
            accessToken: "x",
            owner: "external",
            source: { format: "nope" as "codex", path: file },
          },
        ]),
    ).toThrow(/source\.format/);
  });
});
