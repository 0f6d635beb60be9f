import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { main } from "./main.js";

const fixture = (name: string) =>
  fileURLToPath(new URL(`../../test/fixtures/config/${name}`, import.meta.url));

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    argv,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("oauthmanager CLI", () => {
  it("check lists providers and credential ids of a valid file, never a token", async () => {
    const { code, out } = await run("check", "--config", fixture("seed.yaml"));
    expect(code).toBe(0);
    expect(out).toContain("gemini: 2 credential(s): team-account, personal-account");
    expect(out).not.toContain("access-token-1");
    expect(out).not.toContain("client-secret-1");
  });

  it("check reports a bad file with exit code 1", async () => {
    const { code, err } = await run("check", "--config", "/nonexistent/oauthmanager.yaml");
    expect(code).toBe(1);
    expect(err).toContain("/nonexistent/oauthmanager.yaml");
  });

  it("usage errors exit 2; help and version exit 0", async () => {
    expect((await run("frobnicate")).code).toBe(2);
    expect((await run("check")).code).toBe(2);
    expect((await run("--bogus")).code).toBe(2);
    expect((await run("help")).out).toContain("Usage: oauthmanager");
    const v = await run("--version");
    expect(v.code).toBe(0);
    expect(v.out).toMatch(/^\d+\.\d+\.\d+/);
  });
});
