/**
 * The model a request names is its failover scope: a 429 for one model rests the credential for
 * that model only, end to end through the gateway to a scripted upstream.
 */
import { afterEach, describe, expect, it } from "vitest";
import { call, startGateway, type TestGateway } from "./support/gateway.js";
import { startUpstream, type Upstream } from "./support/upstream.js";

const KEY = "scope-client-key-0123456789";

let upstream: Upstream;
let gw: TestGateway | undefined;

afterEach(async () => {
  await gw?.close();
  gw = undefined;
  await upstream?.close();
});

/** One provider `p` with a single API key, so every request goes to the same credential. */
function config(url: string): string {
  return `
server:
  client_keys: ["${KEY}"]
providers:
  p:
    upstream: ${url}
    api_keys: ["upstream-key-1"]
`;
}

const LIMITED = { status: 429, headers: { "retry-after": "600" }, body: { error: "quota" } };

async function scopedCooldowns(url: string): Promise<Record<string, Record<string, string>>> {
  const res = await call(`${url}/status`, KEY);
  const doc = (await res.json()) as {
    providers: { p: { scoped_cooldowns?: Record<string, Record<string, string>> } };
  };
  return doc.providers.p.scoped_cooldowns ?? {};
}

describe("gateway: the request's model is its failover scope", () => {
  it("a 429 for model A (JSON body) leaves the credential serving model B", async () => {
    upstream = await startUpstream();
    gw = await startGateway(config(upstream.url));
    const post = (model: string) =>
      call(`${gw?.url}/p/v1/chat/completions`, KEY, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model, messages: [] }),
      });

    upstream.reply(LIMITED);
    expect((await post("model-a")).status).toBe(429);
    const cooling = await scopedCooldowns(gw.url);
    expect(Object.keys(cooling)).toEqual(["model-a"]);
    expect(Object.keys(cooling["model-a"] ?? {})).toEqual(["key-1"]);

    upstream.reply({ status: 200, body: { ok: true } });
    const res = await post("model-b");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(upstream.seen.map((s) => s.token)).toEqual(["upstream-key-1", "upstream-key-1"]);

    // Model A itself is still resting: the gateway answers without asking the upstream.
    expect((await post("model-a")).status).toBe(503);
    expect(upstream.seen).toHaveLength(2);
    expect(upstream.unexpected).toEqual([]);
  });

  it("takes the model from a Gemini style path", async () => {
    upstream = await startUpstream();
    gw = await startGateway(config(upstream.url));
    const generate = (model: string, verb = "generateContent") =>
      call(`${gw?.url}/p/v1beta/models/${model}:${verb}?alt=sse`, KEY, {
        method: "POST",
        body: JSON.stringify({ contents: [] }),
      });

    upstream.reply(LIMITED);
    expect((await generate("gemini-a", "streamGenerateContent")).status).toBe(429);
    expect(Object.keys(await scopedCooldowns(gw.url))).toEqual(["gemini-a"]);

    upstream.reply({ status: 200, body: { ok: true } });
    expect((await generate("gemini-b")).status).toBe(200);
    expect(upstream.seen[1]?.path).toBe("/v1beta/models/gemini-b:generateContent?alt=sse");
    expect(upstream.unexpected).toEqual([]);
  });

  it("an odd model name gives no scope: the 429 rests the credential for every request", async () => {
    upstream = await startUpstream();
    gw = await startGateway(config(upstream.url));
    upstream.reply(LIMITED);
    const odd = await call(`${gw.url}/p/v1/messages`, KEY, {
      method: "POST",
      body: JSON.stringify({ model: "a b<script>" }),
    });
    expect(odd.status).toBe(429);
    expect(await scopedCooldowns(gw.url)).toEqual({});
    const next = await call(`${gw.url}/p/v1/messages`, KEY, {
      method: "POST",
      body: JSON.stringify({ model: "model-b" }),
    });
    expect(next.status).toBe(503);
    expect(upstream.seen).toHaveLength(1);
  });
});
