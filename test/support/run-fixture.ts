/**
 * Runs a fixture of test/fixtures/ in a child process of its own (through tsx) and resolves with
 * its exit code and standard output once it exits. A process held open by a timer never exits:
 * the test's own timeout then reports it.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export function runFixture(
  name: string,
  ...args: string[]
): Promise<{ code: number | null; out: string }> {
  const fixture = fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", fixture, ...args], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d;
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, out }));
  });
}
