/**
 * A store call that hangs without any I/O still ends in the store timeout while a caller awaits
 * it: the timeout's timer holds the process open until then, instead of the process exiting with
 * the caller's promise pending.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const fixture = fileURLToPath(new URL("./fixtures/stuck-store.ts", import.meta.url));

function run(mode: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", fixture, mode], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d;
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, out }));
  });
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
