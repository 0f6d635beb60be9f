/**
 * A refresh that hangs without any I/O still ends in its timeout while a caller awaits it: the
 * timeout's timer holds the process open until then, instead of the process exiting with the
 * request pending.
 */
import { describe, expect, it } from "vitest";
import { runFixture } from "./support/run-fixture.js";

function run(...args: string[]) {
  return runFixture("stuck-refresh.ts", ...args);
}

describe("a refresh stuck without I/O", () => {
  it("a hanging refresh function fails with a RefreshError at its timeout; the process exits 0", async () => {
    const { code, out } = await run("refresh");
    expect(out).toContain("RefreshError: failed to refresh OAuth token for credential a");
    expect(out).toContain("timed out");
    expect(code).toBe(0);
  });

  it("a hanging onTokenRefresh is given up at the timeout and the fresh token served", async () => {
    const { code, out } = await run("callback");
    expect(out).toBe("served fresh\n");
    expect(code).toBe(0);
  });
});
