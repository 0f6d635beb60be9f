/**
 * `oauthmanager refresh` against a local token endpoint and `oauthmanager import` from fixture
 * files of each CLI's format, both as child processes over a file store in a temporary folder.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { FileTokenStore } from "../src/stores/file-store.js";
import { runCli } from "./support/run-cli.js";
import { storedRecords as stored } from "./support/stored-records.js";
import { startTokenServer, type TokenServer } from "./support/token-server.js";

// Each test starts CLI processes (through tsx), several at once: slow on a shared machine.
vi.setConfig({ testTimeout: 120_000 });

const fixture = (name: string) =>
  fileURLToPath(new URL(`./fixtures/providers/${name}`, import.meta.url));

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oauthmanager-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("refresh", () => {
  let server: TokenServer;
  let config: string;
  let tokens: string;

  beforeAll(async () => {
    server = await startTokenServer({ rotate: true });
    for (const rt of ["rt-a-CANARY", "rt-b-CANARY", "rt-stored-CANARY"]) server.allow(rt);
    tokens = join(dir, "refresh-tokens.json");
    config = join(dir, "refresh.yaml");
    await writeFile(
      config,
      [
        `store: { type: file, path: ${tokens} }`,
        "providers:",
        "  internal:",
        `    token_url: ${server.url}`,
        "    oauth_credentials:",
        "      - { id: a, refresh_token: rt-a-CANARY }",
        "      - { id: b, refresh_token: rt-b-CANARY }",
        "      - { id: bad, refresh_token: rt-revoked-CANARY }",
        "    api_keys: [sk-CANARY-key]",
        "",
      ].join("\n"),
    );
    // A login added by `import` or `login`: in the store only.
    const store = new FileTokenStore({ path: tokens });
    await store.save("internal/stored", { accessToken: "", refreshToken: "rt-stored-CANARY" });
    await store.close();
  });
  afterAll(async () => {
    await server.close();
    expect(server.unexpected).toEqual([]);
  });

  it("refreshes every credential, one line each and a summary; exits 1 when one failed", async () => {
    const { code, stdout, stderr } = await runCli(["refresh", "--config", config]);
    expect(stdout.split("\n")).toEqual([
      expect.stringMatching(/^internal\/a: refreshed, expires in (59m\d\ds|1h00m)$/),
      expect.stringMatching(/^internal\/b: refreshed, expires in (59m\d\ds|1h00m)$/),
      expect.stringMatching(
        /^internal\/bad: FAILED: failed to refresh OAuth token for credential bad: .*invalid_grant/,
      ),
      "internal/key-1: skipped (no refresh token)",
      expect.stringMatching(/^internal\/stored: refreshed, expires in (59m\d\ds|1h00m)$/),
      "3 refreshed, 1 failed, 1 skipped",
      "",
    ]);
    expect(code).toBe(1);
    expect(stderr).toContain("oauthmanager: 1 of 4 refreshes failed\n");
    expect(stdout + stderr).not.toMatch(/CANARY|rt-\d/);
    expect(server.calls).toBe(4);
    // The rotated tokens are in the store, for the gateway and the next run.
    const records = await stored(tokens);
    expect(records.get("internal/a")).toMatchObject({
      accessToken: expect.stringMatching(/^at-\d+$/),
      refreshToken: expect.stringMatching(/^rt-\d+$/),
    });
    expect(records.get("internal/stored")).toMatchObject({
      refreshToken: expect.stringMatching(/^rt-\d+$/),
    });
  });

  it("refreshes one credential by provider and id, from the rotated token in the store", async () => {
    const before = server.calls;
    const { code, stdout, stderr } = await runCli(["refresh", "internal", "a", "-c", config]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout.split("\n")).toEqual([
      expect.stringMatching(/^internal\/a: refreshed, expires in (59m\d\ds|1h00m)$/),
      "1 refreshed, 0 failed",
      "",
    ]);
    // The spent refresh token would have been refused (rotate: true): the stored one was sent.
    expect(server.calls).toBe(before + 1);
  });

  it("names what it does not know, with what the configuration has", async () => {
    const [provider, id, noConfig, extra] = await Promise.all([
      runCli(["refresh", "internl", "--config", config]),
      runCli(["refresh", "internal", "nobody-here", "--config", config]),
      runCli(["refresh"]),
      runCli(["refresh", "internal", "a", "b", "--config", config]),
    ]);
    expect(provider).toMatchObject({ code: 1, stdout: "" });
    expect(provider.stderr).toBe(
      'oauthmanager: no provider named "internl" (did you mean "internal"?); the configuration has: internal\n',
    );
    expect(id.stderr).toBe(
      'oauthmanager: no credential named "nobody-here"; internal has: a, b, bad, key-1, stored\n',
    );
    expect(noConfig.code).toBe(2);
    expect(noConfig.stderr.split("\n")[0]).toBe(
      "oauthmanager: refresh needs a configuration file: --config FILE",
    );
    expect(extra.code).toBe(2);
    expect(extra.stderr.split("\n")[0]).toBe(
      "oauthmanager: refresh takes at most a PROVIDER and an ID, got 3 arguments",
    );
  });
});

describe("import", () => {
  let config: string;
  let tokens: string;

  beforeAll(async () => {
    tokens = join(dir, "import-tokens.json");
    config = join(dir, "import.yaml");
    await writeFile(
      config,
      [
        `store: { type: file, path: ${tokens} }`,
        "providers:",
        "  gemini: {}",
        "  qwen: {}",
        "  anthropic: {}",
        "  openai: {}",
        "  team:",
        "    oauth_credentials: [{ id: listed, access_token: at-listed }]",
        "",
      ].join("\n"),
    );
  });

  it("adds each CLI's login to its provider, under an id derived from the account", async () => {
    const runs = await Promise.all([
      runCli(["import", "gemini-cli", fixture("gemini-cli.oauth_creds.json"), "--config", config]),
      runCli(["import", "qwen-code", fixture("qwen-code.oauth_creds.json"), "--config", config]),
      runCli([
        "import",
        "claude-code",
        fixture("claude-code.credentials.json"),
        "--config",
        config,
      ]),
      runCli(["import", "codex", fixture("codex.auth.json"), "--config", config]),
    ]);
    const kinds = [
      ["gemini", "gemini-cli"],
      ["qwen", "qwen-code"],
      ["anthropic", "claude-code"],
      ["openai", "codex"],
    ];
    runs.forEach((run, i) => {
      const [provider, kind] = kinds[i] as [string, string];
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(
        new RegExp(
          `^imported ${provider}/${kind}:[0-9a-f]{12} from \\S+, token expired \\(refreshed before first use\\)\\n$`,
        ),
      );
      expect(run.stdout).not.toContain("CANARY");
    });
    const records = await stored(tokens);
    expect([...records.keys()].map((k) => k.replace(/:[0-9a-f]{12}$/, "")).sort()).toEqual([
      "anthropic/claude-code",
      "gemini/gemini-cli",
      "openai/codex",
      "qwen/qwen-code",
    ]);
    const byProvider = (p: string) => [...records].find(([k]) => k.startsWith(`${p}/`))?.[1];
    expect(byProvider("gemini")).toMatchObject({
      accessToken: "ya29.CANARY-GEMINI-ACCESS-7f3a",
      refreshToken: "1//0gCANARY-GEMINI-REFRESH-91c2",
    });
    expect(byProvider("qwen")).toMatchObject({
      refreshToken: "CANARY-QWEN-REFRESH-8b4f",
      providerData: { resourceUrl: "https://portal.qwen.ai/v1" },
    });
    expect(byProvider("anthropic")).toMatchObject({
      refreshToken: "sk-ant-ort01-CANARY-CLAUDE-REFRESH-6a0b",
    });
    expect(byProvider("openai")).toMatchObject({
      refreshToken: "rt_CANARY-CODEX-REFRESH-0f3c",
      providerData: { accountId: "acct-0000-1111-2222" },
    });
  });

  it("a second import of the same account updates its record instead of adding one", async () => {
    // The same Google account (same id_token subject), with tokens Gemini CLI refreshed since.
    const original = JSON.parse(await readFile(fixture("gemini-cli.oauth_creds.json"), "utf8"));
    const later = join(dir, "later.json");
    await writeFile(later, JSON.stringify({ ...original, access_token: "ya29.CANARY-LATER" }));
    const { code, stdout } = await runCli(["import", "gemini-cli", later, "--config", config]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^updated gemini\/gemini-cli:[0-9a-f]{12} from /);
    const gemini = [...(await stored(tokens))].filter(([k]) => k.startsWith("gemini/"));
    expect(gemini).toHaveLength(1);
    expect(gemini[0]?.[1].accessToken).toBe("ya29.CANARY-LATER");
  });

  it("reads the CLI's default file, and names the id and provider when asked", async () => {
    const home = join(dir, "gemini-home");
    await mkdir(join(home, ".gemini"), { recursive: true });
    await copyFile(
      fixture("gemini-cli.oauth_creds.json"),
      join(home, ".gemini", "oauth_creds.json"),
    );
    const { code, stdout } = await runCli(
      ["import", "gemini-cli", "--config", config, "--provider", "team", "--id", "work"],
      { GEMINI_CLI_HOME: home },
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(`imported team/work from ${join(home, ".gemini", "oauth_creds.json")}`);
    expect((await stored(tokens)).get("team/work")?.refreshToken).toBe(
      "1//0gCANARY-GEMINI-REFRESH-91c2",
    );
  });

  it("refuses bad input with one line each, never a token", async () => {
    const noStore = join(dir, "no-store.yaml");
    await writeFile(noStore, "providers:\n  qwen:\n    api_keys: [k]\n");
    const emptyHome = join(dir, "empty-qwen-home");
    await mkdir(emptyHome, { recursive: true });
    const runs = await Promise.all([
      runCli(["import", "cursor", "--config", config]),
      runCli(["import", "qwen-code", fixture("qwen-code.oauth_creds.json"), "--config", noStore]),
      runCli(["import", "qwen-code", "--config", config], { QWEN_HOME: emptyHome }),
      runCli(["import", "codex", fixture("broken.not-json.txt"), "--config", config]),
      runCli([
        "import",
        "codex",
        fixture("codex.auth.json"),
        "--config",
        config,
        "--provider",
        "opneai",
      ]),
      runCli([
        "import",
        "gemini-cli",
        fixture("gemini-cli.oauth_creds.json"),
        "--config",
        config,
        "--provider",
        "team",
        "--id",
        "listed",
      ]),
    ]);
    const [kind, store, missing, broken, provider, listed] = runs;
    expect(kind?.code).toBe(2);
    expect(kind?.stderr.split("\n")[0]).toBe(
      'oauthmanager: import reads gemini-cli, qwen-code, claude-code, codex; not "cursor"',
    );
    expect(store?.stderr).toBe(
      `oauthmanager: ${noStore} has no store: add a file or redis store (store: { type: file, path: tokens.json }) to keep logins\n`,
    );
    expect(missing?.stderr).toBe(
      `oauthmanager: cannot import the Qwen Code login from ${join(emptyHome, "oauth_creds.json")}: no such file (is the CLI signed in?)\n`,
    );
    expect(broken?.stderr).toBe(
      `oauthmanager: cannot import the Codex login from ${fixture("broken.not-json.txt")}: it is not valid JSON\n`,
    );
    expect(provider?.stderr).toBe(
      `oauthmanager: no provider named "opneai" (did you mean "openai"?); ${config} has: gemini, qwen, anthropic, openai, team\n`,
    );
    expect(listed?.stderr).toBe(
      "oauthmanager: credential team/listed is listed in the configuration file; give another --id\n",
    );
    for (const run of runs.slice(1)) expect(run?.code).toBe(1);
    for (const run of runs) expect(`${run?.stdout}${run?.stderr}`).not.toContain("CANARY");
  });
});
