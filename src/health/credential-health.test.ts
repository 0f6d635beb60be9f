import { describe, expect, it } from "vitest";
import { CredentialHealth, DEFAULT_HEALTH_POLICY } from "./credential-health.js";

describe("CredentialHealth", () => {
  it("counts failures of requests that were in flight together as one backoff step", () => {
    const h = new CredentialHealth(DEFAULT_HEALTH_POLICY);
    // 20 requests start at 1,000; the upstream blips and they all fail between 1,050 and 1,100
    for (let i = 0; i < 20; i++) h.recordFailure(1_050 + i, undefined, 1_000);
    expect(h.failureCount).toBe(1);
    expect(h.backoffUntil).toBe(2_050);
    expect(h.isHealthy()).toBe(true);
  });

  it("escalates for a failure whose request started after the last step", () => {
    const h = new CredentialHealth(DEFAULT_HEALTH_POLICY);
    h.recordFailure(1_000, undefined, 990);
    h.recordFailure(2_100, undefined, 2_050);
    h.recordFailure(4_200, undefined, 4_150);
    expect(h.failureCount).toBe(3);
    expect(h.backoffUntil).toBe(4_200 + 4_000);
    expect(h.isHealthy()).toBe(false);
  });

  it("still honours the Retry-After of a failure that adds no step", () => {
    const h = new CredentialHealth(DEFAULT_HEALTH_POLICY);
    h.recordFailure(1_000, undefined, 900);
    h.recordFailure(1_010, 30_000, 900);
    expect(h.failureCount).toBe(1);
    expect(h.backoffUntil).toBe(31_010);
  });

  it("a failure reported from outside always counts", () => {
    const h = new CredentialHealth(DEFAULT_HEALTH_POLICY);
    h.recordFailure(1_000);
    h.recordFailure(1_000);
    expect(h.failureCount).toBe(2);
  });

  it("after a success the next failure starts the ladder again", () => {
    const h = new CredentialHealth(DEFAULT_HEALTH_POLICY);
    h.recordFailure(1_000, undefined, 1_000);
    h.recordSuccess(3_000);
    h.recordFailure(3_500, undefined, 500);
    expect(h.failureCount).toBe(1);
    expect(h.backoffUntil).toBe(4_500);
  });
});
