/**
 * `oauthmanager status` as a child process: from a fake gateway's `/status` on 127.0.0.1 (the
 * gateway's contract) and from a configuration's file store; the table, `--json`, colours, and
 * each error exit.
 */

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { FileTokenStore } from "../src/stores/file-store.js";
import { closeServer } from "./support/close-server.js";
import { runCli } from "./support/run-cli.js";
import { statusCredential } from "./support/status-credential.js";

// Each test starts CLI processes (through tsx), several at once: slow on a shared machine.
vi.setConfig({ testTimeout: 120_000 });

const KEY = "gw-client-key-CANARY-5e1f";
const ESC = "\u001b[";

let gateway: Server;
let url: string;
const unexpected: string[] = [];
let report: Record<string, unknown>;
let dir: string;

beforeAll(async () => {
  const now = Date.now();
  report = {
    generated_at: new Date(now).toISOString(),
    providers: {
      gemini: {
        provider: "gemini",
        total_credentials: 3,
        healthy_credentials: 1,
        unhealthy_credentials: 1,
        credentials_in_backoff: 1,
        total_requests: 40,
        success_rate: 0.75,
        credentials: {
          team: statusCredential("team", {
            request_count: 40,
            success_rate: 0.75,
            latency_p50: 80,
            latency_p95: 123.4,
            latency_p99: 300,
            expires_at: new Date(now + 2 * 3_600_000).toISOString(),
          }),
          spare: statusCredential("spare", {
            state: "cooling",
            is_available: false,
            backoff_until: new Date(now + 90_000).toISOString(),
          }),
          old: statusCredential("old", {
            state: "needs_reauth",
            is_healthy: false,
            is_available: false,
            expires_at: new Date(now - 600_000).toISOString(),
          }),
        },
      },
    },
  };
  gateway = createServer((req, res) => {
    if (req.method !== "GET" || req.url !== "/status") {
      unexpected.push(`${req.method} ${req.url}`);
      res.writeHead(404).end();
      return;
    }
    if (req.headers.authorization !== `Bearer ${KEY}`) {
      res.writeHead(401, { "content-type": "application/json" }).end('{"error":"unauthorized"}');
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(report));
  });
  await new Promise<void>((resolve) => gateway.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
  dir = await mkdtemp(join(tmpdir(), "oauthmanager-status-"));
});

afterAll(async () => {
  await closeServer(gateway);
  await rm(dir, { recursive: true, force: true });
  expect(unexpected).toEqual([]);
});

describe("status --url (a running gateway)", () => {
  it("prints a table per provider: state, backoff, expiry countdown, requests, success, p95", async () => {
    const { code, stdout, stderr } = await runCli(["status", "--url", url], {
      OAUTHMANAGER_KEY: KEY,
    });
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const lines = stdout.split("\n");
    expect(lines[0]).toBe(
      "gemini  3 credentials, 1 healthy, 1 in backoff, 40 requests, 75.0% success",
    );
    expect(lines[1]).toMatch(/^ {2}CREDENTIAL +STATE +BACKOFF +EXPIRES +REQUESTS +SUCCESS +p95$/);
    expect(lines[2]).toMatch(/^ {2}team +healthy +- +in (1h59m|2h00m) +40 +75\.0% +123 ms$/);
    expect(lines[3]).toMatch(/^ {2}spare +cooling +(1m\d\ds|\d\ds) +never +0 +- +-$/);
    expect(lines[4]).toMatch(/^ {2}old +needs_reauth +- +expired 10m0\ds ago +0 +- +-$/);
    expect(stdout).toContain(`from the gateway at ${url}`);
    // Not a terminal, no FORCE_COLOR: no escape codes.
    expect(stdout).not.toContain(ESC);
    expect(stdout + stderr).not.toContain(KEY);
  });

  it("--json prints the gateway's report as it is, for scripts", async () => {
    const { code, stdout } = await runCli(["status", "--url", `${url}/`, "--json"], {
      OAUTHMANAGER_KEY: KEY,
    });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(report);
  });

  it("colours with FORCE_COLOR, and never with NO_COLOR", async () => {
    const [forced, denied] = await Promise.all([
      runCli(["status", "--url", url, "--key", KEY], { FORCE_COLOR: "1" }),
      runCli(["status", "--url", url, "--key", KEY], { FORCE_COLOR: "1", NO_COLOR: "1" }),
    ]);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`${ESC}32mhealthy${ESC}0m`);
    expect(forced.stdout).toContain(`${ESC}31mneeds_reauth${ESC}0m`);
    expect(denied.code).toBe(0);
    expect(denied.stdout).not.toContain(ESC);
  });

  it("a wrong key, no key, a gateway that is down, a bad URL: one line each, never the key", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const downUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await closeServer(closed);
    const [wrong, none, down, bad] = await Promise.all([
      runCli(["status", "--url", url], { OAUTHMANAGER_KEY: "wrong-key-CANARY-0000" }),
      runCli(["status", "--url", url]),
      runCli(["status", "--url", downUrl], { OAUTHMANAGER_KEY: KEY }),
      runCli(["status", "--url", "ftp://example.test"], { OAUTHMANAGER_KEY: KEY }),
    ]);
    expect(wrong).toMatchObject({ code: 1, stdout: "" });
    expect(wrong.stderr).toBe(
      `oauthmanager: the gateway at ${url} refused the client key (HTTP 401); set OAUTHMANAGER_KEY to one of its server.client_keys\n`,
    );
    expect(wrong.stderr).not.toContain("CANARY");
    expect(none).toMatchObject({ code: 2, stdout: "" });
    expect(none.stderr.split("\n")[0]).toBe(
      "oauthmanager: status --url needs the gateway's client key: set OAUTHMANAGER_KEY (or give --key)",
    );
    expect(down.code).toBe(1);
    expect(down.stderr).toBe(
      `oauthmanager: cannot reach the gateway at ${downUrl}: ECONNREFUSED\n`,
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr.split("\n")[0]).toBe(
      "oauthmanager: --url must be an http:// or https:// URL, as http://127.0.0.1:8787",
    );
  });
});

describe("status --config (the store, no gateway)", () => {
  it("lists the configured credentials and the logins the store holds", async () => {
    const tokens = join(dir, "tokens.json");
    const config = join(dir, "oauthmanager.yaml");
    await writeFile(
      config,
      [
        `store: { type: file, path: ${tokens} }`,
        "providers:",
        "  internal:",
        "    token_url: http://127.0.0.1:9/token",
        "    oauth_credentials:",
        "      - { id: from-file, access_token: at-file-CANARY, expires_at: 2099-01-01T00:00:00Z }",
        "    api_keys: [sk-key-CANARY-1]",
        "",
      ].join("\n"),
    );
    const store = new FileTokenStore({ path: tokens });
    await store.save("internal/from-login", {
      accessToken: "at-login-CANARY",
      refreshToken: "rt-login-CANARY",
      expiresAt: new Date(Date.now() + 30 * 60_000),
    });
    await store.close();

    const table = await runCli(["status", "--config", config]);
    expect(table.stderr).toBe("");
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^internal {2}3 credentials, 3 healthy, 0 requests$/m);
    expect(table.stdout).toMatch(/^ {2}from-file +healthy +- +in \d+d\d+h +0 +- +-$/m);
    expect(table.stdout).toMatch(/^ {2}key-1 +healthy +- +never +0 +- +-$/m);
    expect(table.stdout).toMatch(/^ {2}from-login +healthy +- +in (29m\d\ds|30m00s) +0 +- +-$/m);
    expect(table.stdout).toContain(`from the file store of ${config}`);
    expect(table.stdout).not.toContain("CANARY");

    const json = await runCli(["status", "-c", config, "--json"]);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as {
      providers: Record<string, { credentials: Record<string, Record<string, unknown>> }>;
    };
    expect(Object.keys(parsed.providers.internal?.credentials ?? {})).toEqual([
      "from-file",
      "key-1",
      "from-login",
    ]);
    expect(parsed.providers.internal?.credentials["from-login"]).toMatchObject({
      state: "healthy",
      request_count: 0,
      latency_p95: 0,
    });
    expect(json.stdout).not.toContain("CANARY");
  });

  it("refuses bad input with one line: usage errors exit 2, a bad file exits 1 with every path", async () => {
    const bad = join(dir, "bad.yaml");
    await writeFile(
      bad,
      "providers:\n  gemini:\n    selection: fastest\n    oauth_credentials: [{ id: a }]\n",
    );
    const [neither, both, unknown, missing, invalid] = await Promise.all([
      runCli(["status"]),
      runCli(["status", "--config", bad, "--url", url]),
      runCli(["status", "--config", bad, "--verbose"]),
      runCli(["status", "--config", join(dir, "nope.yaml")]),
      runCli(["status", "--config", bad]),
    ]);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toBe(
      'oauthmanager: status needs one of --config FILE or --url URL\nRun "oauthmanager status --help" for usage.\n',
    );
    expect(both.code).toBe(2);
    expect(both.stderr.split("\n")[0]).toBe(
      "oauthmanager: status needs one of --config FILE or --url URL",
    );
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.split("\n")[0]).toBe("oauthmanager: unknown option --verbose");
    expect(missing).toMatchObject({ code: 1, stdout: "" });
    expect(missing.stderr).toBe(
      `oauthmanager: cannot read configuration file ${join(dir, "nope.yaml")}: no such file\n`,
    );
    expect(invalid).toMatchObject({ code: 1, stdout: "" });
    expect(invalid.stderr.split("\n")).toEqual([
      `oauthmanager: invalid configuration file ${bad}:`,
      "  providers.gemini.oauth_credentials[0]: needs an access_token or a refresh_token",
      expect.stringMatching(/^ {2}providers\.gemini\.selection: expected one of /),
      "",
    ]);
  });

  it("--help prints the usage and exits 0", async () => {
    const { code, stdout } = await runCli(["status", "--help"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: oauthmanager status --config FILE \| --url URL/);
    expect(stdout).toMatch(/^ {2}--json +\S/m);
    expect(stdout).toMatch(/^ {2}--key KEY +.*OAUTHMANAGER_KEY/m);
  });
});
