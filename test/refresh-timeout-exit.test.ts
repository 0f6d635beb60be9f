/**
 * A refresh that hangs without any I/O still ends in its timeout while a caller awaits it: the
 * timeout's timer holds the process open until then, instead of the process exiting with the
 * request pending.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const fixture = fileURLToPath(new URL("./fixtures/stuck-refresh.ts", import.meta.url));

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
