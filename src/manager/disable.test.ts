import { describe, expect, it } from "vitest";
import { OAuthKeyManager } from "./oauth-key-manager.js";

const NOW = Date.parse("2026-01-01T00:00:00Z");
const creds = ["a", "b"].map((id) => ({ id, accessToken: `token-${id}` }));

describe("disableCredential / enableCredential", () => {
  it("takes a credential out of selection and puts it back, keeping its figures", async () => {
    const manager = new OAuthKeyManager("p", creds, undefined, { now: () => NOW });
    const used: string[] = [];
    const op = async (cred: { id: string }) => {
      used.push(cred.id);
      return { result: cred.id };
    };
    await manager.executeWithFailover(op);
    expect(manager.disableCredential("a")).toBe(true);
    expect(manager.isCredentialDisabled("a")).toBe(true);
    for (let i = 0; i < 4; i++) await manager.executeWithFailover(op);
    expect(used.slice(1)).toEqual(["b", "b", "b", "b"]);
    expect(manager.getCredentialHealthInfo("a")).toMatchObject({
      isAvailable: false,
      requestCount: 1,
    });

    manager.disableCredential("b");
    await expect(manager.executeWithFailover(op)).rejects.toThrow(/unavailable/);

    expect(manager.enableCredential("a")).toBe(true);
    expect(manager.isCredentialDisabled("a")).toBe(false);
    await manager.executeWithFailover(op);
    expect(used.at(-1)).toBe("a");
    expect(manager.disableCredential("nope")).toBe(false);
    await manager.close();
  });

  it("a credential enabled while in backoff waits out its backoff", async () => {
    let now = NOW;
    const manager = new OAuthKeyManager("p", creds, undefined, { now: () => now });
    manager.reportFailure(
      "a",
      Object.assign(new Error("slow down"), { status: 429, headers: { "retry-after": "60" } }),
    );
    manager.disableCredential("a");
    manager.enableCredential("a");
    expect(manager.getCredentialHealthInfo("a")?.isAvailable).toBe(false);
    now += 61_000;
    expect(manager.getCredentialHealthInfo("a")?.isAvailable).toBe(true);
    await manager.close();
  });

  it("a credential disabled while in backoff stays out of selection when its backoff ends", async () => {
    let now = NOW;
    const manager = new OAuthKeyManager("p", creds, undefined, { now: () => now });
    const used: string[] = [];
    const op = async (cred: { id: string }) => {
      used.push(cred.id);
      return { result: cred.id };
    };
    manager.reportFailure(
      "a",
      Object.assign(new Error("slow down"), { status: 429, headers: { "retry-after": "60" } }),
    );
    manager.disableCredential("a");
    now += 61_000;
    for (let i = 0; i < 3; i++) await manager.executeWithFailover(op);
    expect(used).toEqual(["b", "b", "b"]);
    await manager.close();
  });
});
