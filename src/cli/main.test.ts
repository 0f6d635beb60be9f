import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "./main.js";

const fixture = (name: string) =>
  fileURLToPath(new URL(`../../test/fixtures/config/${name}`, import.meta.url));
const EXAMPLE = fixture("two-credentials.yaml");
const { version } = JSON.parse(
  readFileSync(new URL("../../package.json", import.meta.url), "utf8"),
) as { version: string };

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

/** A usage error: exit code 2, nothing on stdout, the message and a pointer to --help on stderr. */
async function expectUsageError(argv: string[], message: string) {
  const result = await run(...argv);
  expect(result).toMatchObject({ code: 2, out: "" });
  expect(result.err.split("\n")).toEqual([
    `oauthmanager: ${message}`,
    expect.stringMatching(
      /^Run "oauthmanager ((check|validate|status|refresh|import|login|serve) )?--help" for usage\.$/,
    ),
  ]);
}

describe("oauthmanager validate (alias check)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "oauthmanager-cli-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("lists providers and credential ids of a valid file, never a token", async () => {
    const { code, out, err } = await run("check", "--config", EXAMPLE);
    expect(code).toBe(0);
    expect(err).toBe("");
    expect(out).toContain("gemini: 2 credential(s): team-account, personal-account");
    expect(out).not.toContain("access-token-1");
    expect(out).not.toContain("client-secret-1");
  });

  it("takes the file as an argument or with --config, -c or --config=", async () => {
    const expected = await run("check", "--config", EXAMPLE);
    for (const argv of [
      ["check", EXAMPLE],
      ["check", "-c", EXAMPLE],
      ["check", `--config=${EXAMPLE}`],
      ["--config", EXAMPLE, "check"],
    ]) {
      expect(await run(...argv)).toEqual(expected);
    }
  });

  it("reports an unreadable file with exit code 1 and the prefix", async () => {
    expect(await run("check", "/nonexistent/oauthmanager.yaml")).toEqual({
      code: 1,
      out: "",
      err: "oauthmanager: cannot read configuration file /nonexistent/oauthmanager.yaml: no such file",
    });
  });

  it("says a directory is a directory, not EISDIR", async () => {
    const { code, err } = await run("check", dir);
    expect(code).toBe(1);
    expect(err).toBe(`oauthmanager: cannot read configuration file ${dir}: it is a directory`);
  });

  it("puts each problem of an invalid file on its own line", async () => {
    const file = join(dir, "bad.yaml");
    await writeFile(
      file,
      "providers:\n  gemini:\n    selection: fastest\n    api_keys: []\nstore: { type: file }\n",
    );
    const { code, out, err } = await run("check", file);
    expect(code).toBe(1);
    expect(out).toBe("");
    expect(err.split("\n")).toEqual([
      `oauthmanager: invalid configuration file ${file}:`,
      expect.stringMatching(/^ {2}providers\.gemini\.selection: expected one of /),
      "  store.path: is required",
    ]);
  });

  it("refuses a missing, a doubled or an extra file argument", async () => {
    await expectUsageError(
      ["check"],
      "validate needs a configuration file: oauthmanager validate FILE",
    );
    await expectUsageError(["check", "--config"], "option --config needs a value");
    await expectUsageError(
      ["check", "--config", "--help"],
      "option --config needs a value (write --config=VALUE for a value that starts with -)",
    );
    await expectUsageError(
      ["check", EXAMPLE, "--config", EXAMPLE],
      "validate takes one configuration file, given both as FILE and with --config",
    );
    await expectUsageError(["check", EXAMPLE, EXAMPLE], "validate takes one FILE, got 2");
  });
});

describe("oauthmanager usage", () => {
  it("--help, -h and help print the usage, listing commands and options, and exit 0", async () => {
    const help = await run("--help");
    expect(help.code).toBe(0);
    expect(help.err).toBe("");
    expect(help.out).toMatch(/^Usage: oauthmanager <command> \[options\]/);
    expect(help.out).toMatch(/^ {2}validate \[--config\] FILE +\S.*alias: check/m);
    for (const name of ["status", "refresh", "import", "login"]) {
      expect(help.out).toMatch(new RegExp(`^ {2}${name} .* {2,}\\S`, "m"));
    }
    expect(help.out).toMatch(/^ {2}-h, --help +\S/m);
    expect(help.out).toMatch(/^ {2}--version +\S/m);
    expect(await run("-h")).toEqual(help);
    expect(await run("help")).toEqual(help);
    expect(await run()).toEqual(help);
  });

  it("a command's --help prints that command's usage and options", async () => {
    const help = await run("check", "--help");
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: oauthmanager validate \[--config\] FILE/);
    expect(help.out).toMatch(/^ {2}-c, --config FILE +\S/m);
    expect(await run("help", "check")).toEqual(help);
    expect(await run("check", "-h")).toEqual(help);
  });

  it("every command has --help: its usage line and options, exit 0", async () => {
    for (const name of ["validate", "check", "status", "refresh", "import", "login"]) {
      const help = await run(name, "--help");
      expect(help.code).toBe(0);
      const shown = name === "check" ? "validate" : name;
      expect(help.out).toMatch(new RegExp(`^Usage: oauthmanager ${shown} \\S`));
      expect(help.out).toMatch(/^ {2}-h, --help +\S/m);
      expect(await run("help", name)).toEqual(help);
    }
  });

  it("--version prints the version of package.json", async () => {
    expect(await run("--version")).toEqual({ code: 0, out: version, err: "" });
  });

  it("unknown options and commands are usage errors, exit code 2", async () => {
    await expectUsageError(["--bogus"], "unknown option --bogus");
    await expectUsageError(["-x"], "unknown option -x");
    await expectUsageError(["frobnicate"], 'unknown command "frobnicate"');
    await expectUsageError(["help", "frobnicate"], 'unknown command "frobnicate"');
    await expectUsageError(["check", "--bogus", EXAMPLE], "unknown option --bogus");
    await expectUsageError(["--help=yes"], "option --help takes no value");
    await expectUsageError(
      ["serve"],
      "serve needs a configuration file: oauthmanager serve --config FILE",
    );
    await expectUsageError(
      ["serve", "--config", EXAMPLE, "--port", "99999"],
      "option --port needs a whole number from 0 to 65535",
    );
  });

  it("never echoes the value given to an unknown option, nor a long unknown command", async () => {
    const secret = "sk-s3cr3t-0123456789abcdefghijklmnop";
    for (const argv of [["check", `--token=${secret}`, EXAMPLE], [secret], ["help", secret]]) {
      const { code, err } = await run(...argv);
      expect(code).toBe(2);
      expect(err).not.toContain("s3cr3t");
    }
  });
});

describe("the oauthmanager bin", () => {
  const bin = fileURLToPath(new URL("./bin.ts", import.meta.url));
  const exec = (...args: string[]) =>
    promisify(execFile)(process.execPath, ["--import", "tsx", bin, ...args]).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  it("exits with main's code and writes to stdout and stderr", async () => {
    const ok = await exec("--version");
    expect(ok).toMatchObject({ code: 0, stdout: `${version}\n` });
    const bad = await exec("--bogus");
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toMatch(/^oauthmanager: unknown option --bogus\n/);
  });
});
