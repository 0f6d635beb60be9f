/**
 * The official OpenAI and Anthropic SDKs inside `executeWithFailover`, against a fake upstream on
 * 127.0.0.1, written as the README section "With the OpenAI and Anthropic SDKs" shows them: the
 * SDK's own retries off, the pool's signal passed on. Their errors carry `status` and `headers`,
 * so the default classifier decides failover without any glue.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KeyManager } from "../src/manager/key-manager.js";
import { OAuthKeyManager } from "../src/manager/oauth-key-manager.js";
import type { OperationResult } from "../src/types.js";
import { closeServer } from "./support/close-server.js";
import { anthropicMessage, chatCompletion } from "./support/sdk-answers.js";

const NOW = Date.parse("2026-01-01T00:00:00Z");
const now = () => NOW;

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}
/** Never answered: the request hangs until the client goes away. */
const HANG = "hang";

interface Seen {
  path: string;
  token: string;
  retryCount: string | undefined;
}

interface Upstream {
  baseURL: string;
  seen: Seen[];
  /** What each token gets; a token with no entry is a test bug (answered 500 and recorded). */
  replies: Map<string, Reply | typeof HANG>;
  /** Resolves with the response of the next hanging request once it arrives. */
  nextHang(): Promise<ServerResponse>;
}

/** The token a client sent, whichever header its SDK used. */
function tokenOf(req: IncomingMessage): string {
  const auth = req.headers.authorization;
  if (auth?.startsWith("Bearer ")) return auth.slice("Bearer ".length);
  const apiKey = req.headers["x-api-key"];
  return typeof apiKey === "string" ? apiKey : "";
}

let upstream: Upstream;
let stop: () => Promise<void>;

beforeEach(async () => {
  const seen: Seen[] = [];
  const replies = new Map<string, Reply | typeof HANG>();
  const hangs: ((res: ServerResponse) => void)[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const token = tokenOf(req);
      const retryCount = req.headers["x-stainless-retry-count"];
      seen.push({
        path: req.url ?? "",
        token,
        retryCount: typeof retryCount === "string" ? retryCount : undefined,
      });
      const reply = replies.get(token) ?? { status: 500, body: { error: { message: "no reply" } } };
      if (reply === HANG) {
        hangs.shift()?.(res);
        return;
      }
      res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
      res.end(JSON.stringify(reply.body ?? {}));
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  upstream = {
    baseURL: `http://127.0.0.1:${port}`,
    seen,
    replies,
    nextHang: () => new Promise((resolve) => hangs.push(resolve)),
  };
  stop = () => closeServer(server);
});

afterEach(async () => {
  await stop();
});

const CHAT_COMPLETION = chatCompletion("gpt-test");
const MESSAGE = anthropicMessage("claude-test");

/** One SDK, called the way the README shows: a client per call, retries off, the pool's signal. */
interface Sdk {
  name: string;
  ok: unknown;
  errorBody(type: string): unknown;
  call(key: string, signal: AbortSignal): Promise<OperationResult<string>>;
}

const openai: Sdk = {
  name: "openai",
  ok: CHAT_COMPLETION,
  errorBody: (type) => ({ error: { message: type, type } }),
  async call(apiKey, signal) {
    const client = new OpenAI({ apiKey, baseURL: `${upstream.baseURL}/v1`, maxRetries: 0 });
    const completion = await client.chat.completions.create(
      { model: "gpt-test", messages: [{ role: "user", content: "Hello" }] },
      { signal },
    );
    const u = completion.usage;
    return {
      result: completion.choices[0]?.message.content ?? "",
      usage: { promptTokens: u?.prompt_tokens ?? 0, completionTokens: u?.completion_tokens ?? 0 },
    };
  },
};

const anthropic: Sdk = {
  name: "anthropic",
  ok: MESSAGE,
  errorBody: (type) => ({ type: "error", error: { type, message: type } }),
  async call(apiKey, signal) {
    // authToken: null keeps an ANTHROPIC_AUTH_TOKEN in the environment out of the test.
    const client = new Anthropic({
      apiKey,
      authToken: null,
      baseURL: upstream.baseURL,
      maxRetries: 0,
    });
    const message = await client.messages.create(
      { model: "claude-test", max_tokens: 64, messages: [{ role: "user", content: "Hello" }] },
      { signal },
    );
    const text = message.content[0]?.type === "text" ? message.content[0].text : "";
    return {
      result: text,
      usage: {
        promptTokens: message.usage.input_tokens,
        completionTokens: message.usage.output_tokens,
      },
    };
  },
};

describe.each([openai, anthropic])("the $name SDK in a KeyManager pool", (sdk) => {
  it("a 429 with Retry-After on the first key fails over to the second; one request per attempt", async () => {
    upstream.replies.set("key-a", {
      status: 429,
      headers: { "retry-after": "7" },
      body: sdk.errorBody("rate_limit_error"),
    });
    upstream.replies.set("key-b", { status: 200, body: sdk.ok });
    const keys = new KeyManager(sdk.name, ["key-a", "key-b"], { now });
    try {
      const { result, credentialId, attempts } = await keys.executeWithFailover(sdk.call);
      expect(result).toBe("hi");
      expect(credentialId).toBe("key-2");
      expect(attempts).toBe(2);
      // Retries off: exactly one HTTP request per attempt, none of them a retry.
      expect(upstream.seen.map((s) => s.token)).toEqual(["key-a", "key-b"]);
      expect(upstream.seen.every((s) => s.retryCount === undefined || s.retryCount === "0")).toBe(
        true,
      );
      // The Retry-After came from the SDK error's `headers`.
      const first = keys.getCredentialHealthInfo("key-1");
      expect(first?.state).toBe("cooling");
      expect(first?.backoffUntil?.getTime()).toBe(NOW + 7_000);
      expect(keys.getCredentialMetrics("key-2")?.tokensUsed).toBe(5);
    } finally {
      await keys.close();
    }
  });

  it("a 400 is rethrown as the SDK's own error, without failover or penalty", async () => {
    upstream.replies.set("key-a", { status: 400, body: sdk.errorBody("invalid_request_error") });
    upstream.replies.set("key-b", { status: 200, body: sdk.ok });
    const keys = new KeyManager(sdk.name, ["key-a", "key-b"], { now });
    const failures: unknown[] = [];
    keys.on("failure", (f) => failures.push(f));
    try {
      const err = await keys.executeWithFailover(sdk.call).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(
        sdk === openai ? OpenAI.BadRequestError : Anthropic.BadRequestError,
      );
      expect((err as { status?: number }).status).toBe(400);
      expect(upstream.seen.map((s) => s.token)).toEqual(["key-a"]);
      expect(failures).toEqual([]);
      expect(keys.getCredentialHealthInfo("key-1")?.state).toBe("healthy");
    } finally {
      await keys.close();
    }
  });

  it("the caller's abort reaches the SDK's request through the pool's signal", async () => {
    upstream.replies.set("key-a", HANG);
    const keys = new KeyManager(sdk.name, ["key-a"], { now });
    try {
      const hanging = upstream.nextHang();
      const caller = new AbortController();
      const call = keys.executeWithFailover(sdk.call, { signal: caller.signal });
      const res = await hanging;
      const closed = once(res, "close");
      const reason = new Error("caller gave up");
      caller.abort(reason);
      await expect(call).rejects.toBe(reason);
      // The SDK dropped its connection: only the signal it was given can have told it to.
      await closed;
      expect(upstream.seen).toHaveLength(1);
      expect(keys.getCredentialHealthInfo("key-1")?.state).toBe("healthy");
    } finally {
      await keys.close();
    }
  });
});

describe("the Anthropic SDK with OAuth tokens in an OAuthKeyManager pool", () => {
  it("a 401 refreshes the token and retries the same credential once", async () => {
    upstream.replies.set("old-token", {
      status: 401,
      body: anthropic.errorBody("authentication_error"),
    });
    upstream.replies.set("new-token", { status: 200, body: MESSAGE });
    const manager = new OAuthKeyManager(
      "anthropic",
      [{ id: "team", accessToken: "old-token", refreshToken: "refresh-token" }],
      async (cred) => ({ ...cred, accessToken: "new-token" }),
      { now },
    );
    try {
      const { result, credentialId } = await manager.executeWithFailover(async (cred, signal) => {
        const client = new Anthropic({
          authToken: cred.accessToken,
          apiKey: null,
          baseURL: upstream.baseURL,
          maxRetries: 0,
        });
        const message = await client.messages.create(
          { model: "claude-test", max_tokens: 64, messages: [{ role: "user", content: "Hello" }] },
          { signal },
        );
        return { result: message.id };
      });
      expect(result).toBe("msg_1");
      expect(credentialId).toBe("team");
      expect(upstream.seen.map((s) => s.token)).toEqual(["old-token", "new-token"]);
      expect(manager.getCredentialHealthInfo("team")?.refreshCount).toBe(1);
    } finally {
      await manager.close();
    }
  });
});
