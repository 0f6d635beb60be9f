/**
 * A store call that hangs without any I/O still ends in the store timeout while a caller awaits
 * it: the timeout's timer holds the process open until then, instead of the process exiting with
 * the caller's promise pending.
 */
import { describe, expect, it } from "vitest";
import { runFixture } from "./support/run-fixture.js";

function run(...args: string[]) {
  return runFixture("stuck-store.ts", ...args);
}

describe("a store call stuck without I/O", () => {
  it("ready() rejects with the store's timeout as a StoreError; the process exits 0", async () => {
    const { code, out } = await run("ready");
    expect(out).toBe("StoreError: token store load timed out after 300 ms\n");
    expect(code).toBe(0);
  });

  it("a request waits for the load's timeout, then is served from memory", async () => {
    const { code, out } = await run("call");
    expect(out).toBe("served static\n");
    expect(code).toBe(0);
  });
});
