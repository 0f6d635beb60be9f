import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const fixture = fileURLToPath(new URL("./fixtures/started-manager.ts", import.meta.url));

function run(...args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", fixture, ...args], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d;
    });
    child.on("error", reject);
    // A process held open by a timer never exits: the test's own timeout reports it.
    child.on("exit", (code) => resolve({ code, out }));
  });
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
