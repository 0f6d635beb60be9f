import { describe, expect, it } from "vitest";
import { RotationError } from "../errors.js";
import { OAuthKeyManager } from "../manager/oauth-key-manager.js";

const DAY = 86_400_000;

describe("rotation state of credentials never marked", () => {
  it("dates from when each credential joined the pool", async () => {
    let t = 1_000_000;
    const m = new OAuthKeyManager("p", [{ id: "a", accessToken: "ta" }], undefined, {
      now: () => t,
      rotationPolicy: {
        enabled: true,
        rotationInterval: 30 * DAY,
        gracePeriod: DAY,
        autoDecommission: true,
      },
    });
    t += 10 * DAY;
    m.addCredential({ id: "b", accessToken: "tb" });
    expect(m.getRotationState("a")).toEqual({
      createdAt: new Date(1_000_000),
      markedForRotation: false,
    });
    expect(m.getRotationState("b")?.createdAt).toEqual(new Date(1_000_000 + 10 * DAY));
    expect(m.getRotationState("nope")).toBeUndefined();
    t = 1_000_000 + 30 * DAY;
    expect(m.checkRotationNeeded()).toEqual(["a"]);
    t += 10 * DAY;
    expect(m.checkRotationNeeded()).toEqual(["a", "b"]);
    await m.close();
  });

  it("can be marked, and completing an unmarked one says so", async () => {
    let t = 0;
    const m = new OAuthKeyManager("p", [{ id: "a", accessToken: "ta" }], undefined, {
      now: () => t,
    });
    await expect(m.completeRotation("a")).rejects.toThrow(
      "credential a is not marked for rotation",
    );
    await expect(m.completeRotation("zz")).rejects.toThrow(RotationError);
    await m.markForRotation("a", { id: "a2", accessToken: "t2" });
    expect(m.getRotationState("a")).toMatchObject({ markedForRotation: true, replacementId: "a2" });
    expect(m.getCredentialHealthInfo("a")?.markedForRotation).toBe(true);
    expect(m.getCredentialHealthInfo("a2")?.markedForRotation).toBe(false);
    t = 7 * DAY;
    await m.completeRotation("a");
    expect(m.getCredentials().map((c) => c.id)).toEqual(["a2"]);
    await m.close();
  });
});
