import { describe, expect, it } from "vitest";
import { runFixture } from "./support/run-fixture.js";

function run(...args: string[]) {
  return runFixture("started-manager.ts", ...args);
}

describe("timers never keep the process alive", () => {
  it("a process with a started, never-closed manager exits on its own", async () => {
    const { code, out } = await run();
    expect(out).toContain("served by");
    expect(code).toBe(0);
  });

  it("and one that closes it exits too", async () => {
    expect((await run("close")).code).toBe(0);
  });
});
