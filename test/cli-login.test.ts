/**
 * `oauthmanager login` as a child process against oidc-provider on 127.0.0.1: the code flow with
 * PKCE on a loopback redirect (RFC 8252), and the device flow (RFC 8628, with Qwen's PKCE). The
 * test plays the user with plain HTTP requests: it signs in and consents on the provider's pages,
 * then follows the redirect to the CLI's loopback server, or confirms the device code.
 */

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Provider from "oidc-provider";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { closeServer } from "./support/close-server.js";
import { runCli, startCli } from "./support/run-cli.js";
import { storedRecords as stored } from "./support/stored-records.js";

// Each test starts CLI processes (through tsx), several at once: slow on a shared machine.
vi.setConfig({ testTimeout: 120_000 });

const CLIENT_ID = "cli-client";

let server: Server;
let issuer: string;
let dir: string;

beforeAll(async () => {
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        application_type: "native",
        token_endpoint_auth_method: "none",
        grant_types: [
          "authorization_code",
          "refresh_token",
          "urn:ietf:params:oauth:grant-type:device_code",
        ],
        response_types: ["code"],
        // A native client's loopback redirect: any port is accepted (RFC 8252 §7.3).
        redirect_uris: ["http://127.0.0.1/callback"],
      },
    ],
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, email: `${sub}@example.test` }),
    }),
    claims: { openid: ["sub"], email: ["email"] },
    cookies: { keys: ["test-cookie-key-not-a-secret"] },
    features: { deviceFlow: { enabled: true } },
    issueRefreshToken: async () => true,
    ttl: {
      AccessToken: 3600,
      IdToken: 3600,
      RefreshToken: 86_400,
      Grant: 86_400,
      DeviceCode: 600,
      Interaction: 600,
      Session: 86_400,
    },
  });
  server.on("request", provider.callback());
  dir = await mkdtemp(join(tmpdir(), "oauthmanager-login-"));
});

afterAll(async () => {
  await closeServer(server);
  await rm(dir, { recursive: true, force: true });
});

/** A browser without a browser: a cookie jar and manual redirects. */
class User {
  readonly #cookies = new Map<string, string>();

  async request(url: string, form?: Record<string, string>): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.#cookies.size > 0) {
      headers.cookie = [...this.#cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    }
    const init: RequestInit = { redirect: "manual", headers };
    if (form) {
      init.method = "POST";
      headers["content-type"] = "application/x-www-form-urlencoded";
      init.body = new URLSearchParams(form).toString();
    }
    const res = await fetch(url, init);
    for (const cookie of res.headers.getSetCookie()) {
      const [pair] = cookie.split(";");
      const eq = (pair ?? "").indexOf("=");
      if (eq > 0) this.#cookies.set((pair as string).slice(0, eq), (pair as string).slice(eq + 1));
    }
    return res;
  }

  /** Follows redirects on the provider until one leaves it; returns where it points. */
  async follow(res: Response, base: string): Promise<{ url: string; res: Response }> {
    let current = res;
    let url = base;
    while (current.status >= 300 && current.status < 400) {
      url = new URL(current.headers.get("location") as string, url).href;
      await current.body?.cancel();
      if (!url.startsWith(issuer)) return { url, res: current };
      current = await this.request(url);
    }
    return { url, res: current };
  }

  /** Signs in as `login` and consents on the provider's interaction pages. */
  async signInAndConsent(start: string, login: string): Promise<string> {
    let { url, res } = await this.follow(await this.request(start), start);
    for (let step = 0; step < 4 && url.startsWith(issuer); step++) {
      const html = await res.text();
      const form = html.includes('name="login"')
        ? { prompt: "login", login, password: "any" }
        : { prompt: "consent" };
      const action = url;
      ({ url, res } = await this.follow(await this.request(action, form), action));
    }
    return url;
  }
}

async function configFile(
  name: string,
  provider: string,
  login: string,
): Promise<{ config: string; tokens: string }> {
  const tokens = join(dir, `${name}-tokens.json`);
  const config = join(dir, `${name}.yaml`);
  await writeFile(
    config,
    [
      `store: { type: file, path: ${tokens} }`,
      "providers:",
      `  ${provider}:`,
      `    token_url: ${issuer}/token`,
      "    login:",
      login,
      `      client_id: ${CLIENT_ID}`,
      "      scopes: [openid, email]",
      "",
    ].join("\n"),
  );
  return { config, tokens };
}

describe("login with the authorization code flow and PKCE", () => {
  it("prints the URL, takes the redirect on 127.0.0.1, stores the login; the same account again updates it", async () => {
    const { config, tokens } = await configFile(
      "pkce",
      "internal",
      `      authorization_url: ${issuer}/auth`,
    );
    for (const expected of ["added", "updated"]) {
      const cli = startCli(["login", "internal", "--config", config]);
      const start = await cli.line(/^http:\/\/127\.0\.0\.1:\d+\/auth\?/);
      const url = new URL(start);
      expect(url.searchParams.get("code_challenge_method")).toBe("S256");
      expect(url.searchParams.get("redirect_uri")).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
      const callback = await new User().signInAndConsent(start, "user-1");
      expect(callback).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback\?code=/);
      const landing = await fetch(callback);
      expect(landing.status).toBe(200);
      const { code, stdout, stderr } = await cli.done;
      expect(stderr).toBe("");
      expect(code).toBe(0);
      expect(stdout).toMatch(
        new RegExp(
          `^signed in: ${expected} internal/internal:[0-9a-f]{12}, token expires in (59m\\d\\ds|1h00m)$`,
          "m",
        ),
      );
    }
    const records = [...(await stored(tokens))];
    expect(records).toHaveLength(1);
    const [key, token] = records[0] as [string, { accessToken: string; refreshToken?: string }];
    expect(key).toMatch(/^internal\/internal:[0-9a-f]{12}$/);
    expect(token.accessToken).not.toBe("");
    expect(token.refreshToken).toBeTruthy();

    // The stored login refreshes with the configured client, through the same pool.
    const refreshed = await runCli(["refresh", "--config", config]);
    expect(refreshed.stdout).toMatch(/^internal\/internal:[0-9a-f]{12}: refreshed, /m);
    expect(refreshed.code).toBe(0);
    const after = (await stored(tokens)).get(key);
    expect(after?.accessToken).not.toBe(token.accessToken);
    for (const secret of [token.accessToken, token.refreshToken as string]) {
      expect(refreshed.stdout + refreshed.stderr).not.toContain(secret);
    }
  });

  it("a denied sign-in exits 1 with the provider's error", async () => {
    const { config } = await configFile(
      "deny",
      "internal",
      `      authorization_url: ${issuer}/auth`,
    );
    const cli = startCli(["login", "internal", "--config", config]);
    const start = new URL(await cli.line(/^http:\/\/127\.0\.0\.1:\d+\/auth\?/));
    const redirect = new URL(start.searchParams.get("redirect_uri") as string);
    redirect.searchParams.set("error", "access_denied");
    redirect.searchParams.set("state", start.searchParams.get("state") as string);
    redirect.searchParams.set("iss", issuer);
    expect((await fetch(redirect)).status).toBe(400);
    const { code, stderr } = await cli.done;
    expect(code).toBe(1);
    expect(stderr).toBe(
      "oauthmanager: the provider answered access_denied (the sign-in was denied)\n",
    );
  });
});

describe("login with the device flow", () => {
  it("shows the code, waits for the user to confirm it, stores the login (Qwen's flow, with PKCE)", async () => {
    const { config, tokens } = await configFile(
      "device",
      "qwen",
      `      device_authorization_url: ${issuer}/device/auth`,
    );
    const cli = startCli(["login", "qwen", "--config", config]);
    const page = (await cli.line(/^To sign in, open /)).replace(/^To sign in, open /, "");
    const code = (await cli.line(/^and (confirm|enter) the code /)).replace(/^.* the code /, "");
    const user = new User();
    // The verification page: a form with its xsrf token and the user code.
    const form = await (await user.request(page)).text();
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(form)?.[1];
    expect(xsrf).toBeDefined();
    const confirmed = await user.request(`${issuer}/device`, {
      xsrf: xsrf as string,
      user_code: code,
      confirm: "yes",
    });
    const done = await user.signInAndConsent(
      new URL(confirmed.headers.get("location") ?? `${issuer}/device`, issuer).href,
      "user-2",
    );
    expect(done).toContain(`${issuer}/device`);
    const result = await cli.done;
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^signed in: added qwen\/qwen-code:[0-9a-f]{12}, token expires in /m,
    );
    const records = [...(await stored(tokens))];
    expect(records).toHaveLength(1);
    expect(records[0]?.[0]).toMatch(/^qwen\/qwen-code:[0-9a-f]{12}$/);
  });
});

describe("login refuses bad input with one line", () => {
  it("no provider, an unknown one, one it cannot sign in to, no store, an unknown flag", async () => {
    const { config } = await configFile(
      "errors",
      "internal",
      `      authorization_url: ${issuer}/auth`,
    );
    const noStore = join(dir, "login-no-store.yaml");
    await writeFile(noStore, "providers:\n  qwen:\n    api_keys: [k]\n");
    const noEndpoints = join(dir, "login-no-endpoints.yaml");
    await writeFile(
      noEndpoints,
      `store: { type: file, path: ${join(dir, "x.json")} }\nproviders:\n  internal:\n    token_url: ${issuer}/token\n`,
    );
    const [none, unknown, endpoints, store, flag] = await Promise.all([
      runCli(["login", "--config", config]),
      runCli(["login", "gemni", "--config", config]),
      runCli(["login", "internal", "--config", noEndpoints]),
      runCli(["login", "qwen", "--config", noStore]),
      runCli(["login", "internal", "--config", config, "--browser"]),
    ]);
    expect(none.code).toBe(2);
    expect(none.stderr.split("\n")[0]).toBe("oauthmanager: login needs a PROVIDER");
    expect(unknown.stderr).toBe(
      `oauthmanager: no provider named "gemni"; ${config} has: internal\n`,
    );
    expect(endpoints.stderr).toBe(
      "oauthmanager: provider internal has no sign-in endpoints: add providers.internal.login.authorization_url (or device_authorization_url) and client_id\n",
    );
    expect(store.stderr).toBe(
      `oauthmanager: ${noStore} has no store: add a file or redis store (store: { type: file, path: tokens.json }) to keep logins\n`,
    );
    for (const run of [unknown, endpoints, store]) expect(run.code).toBe(1);
    expect(flag.code).toBe(2);
    expect(flag.stderr.split("\n")[0]).toBe("oauthmanager: unknown option --browser");
  });
});
