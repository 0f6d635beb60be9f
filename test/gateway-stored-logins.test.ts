/**
 * `serve` uses the logins `oauthmanager login` and `import` put in the configured store, like
 * `status` and `refresh` do: at start and on reload.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FileTokenStore } from "../src/stores/file-store.js";
import { call, startGateway, type TestGateway } from "./support/gateway.js";
import { startUpstream, type Upstream } from "./support/upstream.js";

const KEY = "stored-client-key-0123456789";

let upstream: Upstream | undefined;
let gw: TestGateway | undefined;
let dir: string | undefined;

afterEach(async () => {
  await gw?.close();
  gw = undefined;
  await upstream?.close();
  upstream = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Saves a login the way `login` and `import` do: under `<provider>/<id>` in the file store. */
async function saveLogin(path: string, key: string, accessToken: string): Promise<void> {
  const store = new FileTokenStore({ path });
  try {
    await store.save(key, { accessToken, expiresAt: new Date(Date.now() + 3_600_000) });
  } finally {
    await store.close();
  }
}

describe("gateway: the store's logins", () => {
  it("serves a provider listed with no credentials with the login its store holds, and picks up new ones on reload", async () => {
    dir = await mkdtemp(join(tmpdir(), "gw-stored-"));
    const tokens = join(dir, "tokens.json");
    await saveLogin(tokens, "p/login-1", "stored-access-1");
    upstream = await startUpstream();
    gw = await startGateway(`
server:
  client_keys: ["${KEY}"]
store: { type: file, path: ${tokens} }
providers:
  p:
    upstream: ${upstream.url}
`);
    upstream.reply({ status: 200, body: { ok: 1 } });
    const res = await call(`${gw.url}/p/v1/x`, KEY);
    expect(res.status).toBe(200);
    expect(upstream.seen.map((s) => s.token)).toEqual(["stored-access-1"]);
    expect(gw.logs.some((l) => /^GET p \/p\/v1\/x 200 login-1 \d+ms$/.test(l))).toBe(true);

    // A login saved while serving joins the pool on reload.
    await saveLogin(tokens, "p/login-2", "stored-access-2");
    expect(await gw.gateway.reload()).toEqual({ ok: true });
    const manager = gw.gateway.managers.get("p");
    expect(manager?.getCredentials().map((c) => c.id)).toEqual(["login-1", "login-2"]);
    manager?.disableCredential("login-1");
    upstream.reply({ status: 200, body: { ok: 2 } });
    expect((await call(`${gw.url}/p/v1/x`, KEY)).status).toBe(200);
    expect(upstream.seen.map((s) => s.token)).toEqual(["stored-access-1", "stored-access-2"]);
    expect(gw.logs.join("\n")).not.toContain("stored-access");
    expect(upstream.unexpected).toEqual([]);
  });
});
