import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { redactSecrets } from "./errors.js";

// Shaped like a Google refresh token: `/`, `+` and `=` change under URL encoding.
const REFRESH = "1//0gCANARY+rt/xyz=";
const CLIENT_ID = "client-123.apps.example";
const CLIENT_SECRET = "CANARY-cs+/ secret!";
const ACCESS = "ya29.CANARY-access";
const SECRETS = [REFRESH, CLIENT_SECRET, ACCESS];

/** Every way the canaries could show up in output. */
function leaks(value: unknown): string[] {
  const shown = `${inspect(value, { depth: Number.POSITIVE_INFINITY })}\n${json(value)}`;
  const found: string[] = [];
  for (const secret of SECRETS) {
    for (const form of [
      secret,
      encodeURIComponent(secret),
      new URLSearchParams({ x: secret }).toString().slice(2),
    ]) {
      if (shown.includes(form)) found.push(form);
    }
  }
  if (shown.includes("CANARY")) found.push("CANARY");
  return found;
}

/** JSON.stringify, or "" for a graph with a cycle (inspect still looks at it). */
function json(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return "";
  }
}

const basic = (id: string, secret: string) =>
  Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64");

describe("redactSecrets finds secrets in every shape", () => {
  it("a URL-encoded form body quoted in the message", () => {
    const form = new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: REFRESH,
      client_secret: CLIENT_SECRET,
    });
    const err = new Error(
      `POST /token failed: ${form} (retried as refresh_token=${encodeURIComponent(REFRESH)})`,
    );
    const safe = redactSecrets(err, SECRETS);
    expect(leaks(safe)).toEqual([]);
    expect(safe.message).toContain("grant_type=refresh_token");
  });

  it("percent-encoding in lower-case hex, and a JSON body that escapes slashes", () => {
    const lower = encodeURIComponent(REFRESH).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
    const err = new Error(`body: refresh_token=${lower} {"t":"${REFRESH.replace(/\//g, "\\/")}"}`);
    expect(leaks(redactSecrets(err, SECRETS))).toEqual([]);
  });

  it("a Basic Authorization header: base64 of client id and secret, in a message and in headers", () => {
    const header = `Basic ${basic(CLIENT_ID, CLIENT_SECRET)}`;
    const err = Object.assign(new Error(`sent Authorization: ${header}`), {
      config: { headers: { Authorization: header } },
    });
    const safe = redactSecrets(err, SECRETS);
    expect(leaks(safe)).toEqual([]);
    expect(inspect(safe)).not.toContain(basic(CLIENT_ID, CLIENT_SECRET));
    expect(safe.config.headers.Authorization).toBe("Basic [REDACTED]");
  });

  it("any Basic or Bearer header value in a headers object, known secret or not", () => {
    const err = Object.assign(new Error("401"), {
      request: {
        headers: { authorization: "Bearer CANARY-unknown-token", "x-api-key": "CANARY-key" },
        rawHeaders: ["Proxy-Authorization", `Basic ${basic("u", "CANARY-pw")}`],
      },
    });
    const safe = redactSecrets(err, SECRETS);
    expect(leaks(safe)).toEqual([]);
    expect(safe.request.headers.authorization).toBe("Bearer [REDACTED]");
  });

  it("a Map and a fetch Headers object of headers, copied, never mutated", () => {
    const map = new Map<string, unknown>([
      ["authorization", `Bearer ${ACCESS}`],
      ["x-body", { refresh_token: REFRESH }],
    ]);
    const headers = new Headers({ authorization: `Bearer ${ACCESS}`, "x-trace": REFRESH });
    const err = Object.assign(new Error("upstream failed"), { map, headers });
    const safe = redactSecrets(err, SECRETS);
    expect(leaks(safe)).toEqual([]);
    expect(safe.map).toBeInstanceOf(Map);
    expect(safe.map.get("authorization")).toBe("Bearer [REDACTED]");
    expect(safe.headers).toBeInstanceOf(Headers);
    expect(safe.headers.get("x-trace")).toBe("[REDACTED]");
    expect(map.get("authorization")).toBe(`Bearer ${ACCESS}`);
    expect(headers.get("x-trace")).toBe(REFRESH);
  });

  it("a token nested far deeper than a few levels, through a cycle", () => {
    const root: Record<string, unknown> = {};
    let node = root;
    for (let i = 0; i < 200; i++) {
      const next: Record<string, unknown> = { back: root };
      node.next = next;
      node = next;
    }
    node.token = REFRESH;
    const err = Object.assign(new Error("deep"), { root });
    const safe = redactSecrets(err, SECRETS);
    expect(leaks(safe)).toEqual([]);
    expect((safe.root as { next: { back: unknown } }).next.back).toBe(safe.root);
  });

  it("walks a huge graph without recursion, nearest first, within its budget", () => {
    const root: Record<string, unknown> = {};
    let node = root;
    for (let i = 0; i < 100_000; i++) {
      const next: Record<string, unknown> = {};
      node.next = next;
      node = next;
    }
    const err = Object.assign(new Error("huge"), { root, near: { token: REFRESH } });
    const safe = redactSecrets(err, SECRETS);
    expect(safe.near.token).toBe("[REDACTED]");
    expect(safe.root).toBe(root);
  });

  it("keeps the identity of parts that hold no secret", () => {
    const response = { status: 401, headers: { "content-type": "application/json" } };
    const err = Object.assign(new Error(`bad token ${ACCESS}`), { response });
    const safe = redactSecrets(err, SECRETS);
    expect(safe.response).toBe(response);
  });

  it("a secret in a plain string, and a string with none", () => {
    expect(redactSecrets(`token=${encodeURIComponent(REFRESH)}`, SECRETS)).toBe("token=[REDACTED]");
    expect(redactSecrets("nothing here", SECRETS)).toBe("nothing here");
  });
});
