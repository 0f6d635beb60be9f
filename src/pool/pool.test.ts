import { describe, expect, it } from "vitest";
import { DEFAULT_HEALTH_POLICY } from "../health/credential-health.js";
import { weighted } from "../selection/selector.js";
import { CredentialPool } from "./pool.js";

describe("CredentialPool memory", () => {
  it("100,000 credential ids passing through leave no state behind", () => {
    const pool = new CredentialPool(weighted(), DEFAULT_HEALTH_POLICY);
    const now = 1_000_000;
    for (let i = 0; i < 100_000; i++) {
      const entry = pool.add({ id: `c${i}`, accessToken: "t", weight: 1 + (i % 3) });
      // every other one is in a one-hour backoff when it goes
      if (i % 2 === 0) {
        entry.health.recordFailure(now, 3_600_000);
        pool.update(entry, now);
      }
      pool.pick(now, undefined);
      pool.remove(entry.id);
    }
    expect(pool.size).toBe(0);
    expect(pool.backoffQueueSize).toBeLessThanOrEqual(64);
    expect(pool.pick(now, undefined)).toBeUndefined();
  });

  it("selection still works after compaction", () => {
    const pool = new CredentialPool(weighted(), DEFAULT_HEALTH_POLICY);
    const now = 0;
    const keep = pool.add({ id: "keep", accessToken: "t" });
    for (let i = 0; i < 1_000; i++) {
      const e = pool.add({ id: `x${i}`, accessToken: "t" });
      e.health.recordFailure(now, 10_000);
      pool.update(e, now);
      pool.remove(e.id);
    }
    keep.health.recordFailure(now, 5_000);
    pool.update(keep, now);
    expect(pool.pick(now, undefined)).toBeUndefined();
    expect(pool.retryAfter(now)).toBe(5_000);
    expect(pool.pick(now + 5_000, undefined)?.id).toBe("keep");
  });
});

describe("CredentialPool listeners", () => {
  it("hear every addition and removal, after the entry is in or out of selection", () => {
    const pool = new CredentialPool(weighted(), DEFAULT_HEALTH_POLICY);
    const heard: string[] = [];
    pool.listen({
      added: (e) => heard.push(`+${e.id}:${pool.get(e.id) === e}`),
      removed: (e) => heard.push(`-${e.id}:${e.removed && pool.get(e.id) === undefined}`),
    });
    pool.addAll([
      { id: "a", accessToken: "t" },
      { id: "b", accessToken: "t" },
    ]);
    pool.remove("a");
    pool.remove("ghost");
    expect(heard).toEqual(["+a:true", "+b:true", "-a:true"]);
  });

  it("adds all or none, naming every invalid credential", () => {
    const pool = new CredentialPool(weighted(), DEFAULT_HEALTH_POLICY);
    pool.add({ id: "a", accessToken: "t" });
    expect(() =>
      pool.addAll([
        { id: "b", accessToken: "t" },
        { id: "a", accessToken: "t" },
      ]),
    ).toThrow(/credentials\[1\]\.id: duplicate id "a": already in the pool/);
    expect(pool.size).toBe(1);
  });
});
