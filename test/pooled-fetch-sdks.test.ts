/**
 * The official OpenAI and Anthropic SDKs on a pool through `pooledFetch`, against a scripted
 * upstream on 127.0.0.1: one client for all calls, its own key a placeholder that never leaves the
 * process, its own retries off so that the pool fails over at once.
 */
import { once } from "node:events";
import type { ServerResponse } from "node:http";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KeyManager } from "../src/manager/key-manager.js";
import { OAuthKeyManager } from "../src/manager/oauth-key-manager.js";
import type { AuthStyle } from "../src/providers/auth.js";
import { pooledFetch } from "../src/providers/pooled-fetch.js";
import { anthropicMessage, chatCompletion } from "./support/sdk-answers.js";
import { type SeenRequest, startUpstream, type Upstream } from "./support/upstream.js";

const NOW = Date.parse("2026-01-01T00:00:00Z");
const now = () => NOW;
/** What the SDKs are given as their key: it must never reach the upstream. */
const SDK_OWN_KEY = "sdk-own-key-must-not-leave";

let upstream: Upstream;
let keys: KeyManager;

beforeEach(async () => {
  upstream = await startUpstream();
  keys = new KeyManager("sdk", ["key-a", "key-b"], { now });
});

afterEach(async () => {
  await keys.close();
  await upstream.close();
  expect(upstream.unexpected).toEqual([]);
  for (const seen of upstream.seen) {
    expect(JSON.stringify(seen.headers)).not.toContain(SDK_OWN_KEY);
  }
});

/** An SSE answer that sends `first`, then the rest only once `release` is called. */
function sse(first: string[], rest: string[]) {
  let release: (() => void) | undefined;
  const reply = (_: SeenRequest, res: ServerResponse) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write(first.join(""));
    release = () => res.end(rest.join(""));
  };
  return { reply, release: () => release?.() };
}

/** The upstream's response to the request that arrives next, once it has. */
function hang() {
  let resolve!: (res: ServerResponse) => void;
  const arrived = new Promise<ServerResponse>((r) => {
    resolve = r;
  });
  return { reply: (_: SeenRequest, res: ServerResponse) => resolve(res), arrived };
}

interface Sdk {
  name: string;
  auth: AuthStyle;
  /** The headers a pooled key `key-a` goes out as. */
  presented: Record<string, string | undefined>;
  ok: unknown;
  errorBody(type: string): unknown;
  BadRequestError: new (...args: never[]) => Error;
  RateLimitError: new (...args: never[]) => Error;
  APIUserAbortError: new (...args: never[]) => Error;
  /** A call through one client built on `fetch`; resolves with the answer's text. */
  call(fetch: typeof globalThis.fetch, signal?: AbortSignal): Promise<string>;
  /** A streaming call: the stream's text pieces, handed to `onPiece` as they come. */
  stream(fetch: typeof globalThis.fetch, onPiece: (text: string) => void): Promise<void>;
  streamEvents: { first: string[]; rest: string[] };
}

const sseEvent = (data: unknown, event?: string) =>
  `${event === undefined ? "" : `event: ${event}\n`}data: ${JSON.stringify(data)}\n\n`;

const chunk = (content: string | undefined, finish: string | null) => ({
  id: "chatcmpl-1",
  object: "chat.completion.chunk",
  created: 0,
  model: "gpt-test",
  choices: [{ index: 0, delta: content === undefined ? {} : { content }, finish_reason: finish }],
});

const openai: Sdk = {
  name: "openai",
  auth: "bearer",
  presented: { authorization: "Bearer key-a", "x-api-key": undefined },
  ok: chatCompletion("gpt-test"),

  errorBody: (type) => ({ error: { message: type, type } }),
  BadRequestError: OpenAI.BadRequestError,
  RateLimitError: OpenAI.RateLimitError,
  APIUserAbortError: OpenAI.APIUserAbortError,
  async call(fetch, signal) {
    const client = new OpenAI({
      apiKey: SDK_OWN_KEY,
      baseURL: `${upstream.url}/v1`,
      maxRetries: 0,
      fetch,
    });
    const completion = await client.chat.completions.create(
      { model: "gpt-test", messages: [{ role: "user", content: "Hello" }] },
      signal === undefined ? {} : { signal },
    );
    return completion.choices[0]?.message.content ?? "";
  },
  async stream(fetch, onPiece) {
    const client = new OpenAI({
      apiKey: SDK_OWN_KEY,
      baseURL: `${upstream.url}/v1`,
      maxRetries: 0,
      fetch,
    });
    const stream = await client.chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "Hello" }],
      stream: true,
    });
    for await (const part of stream) {
      const text = part.choices[0]?.delta.content;
      if (text) onPiece(text);
    }
  },
  streamEvents: {
    first: [sseEvent(chunk("Hel", null))],
    rest: [sseEvent(chunk("lo", null)), sseEvent(chunk(undefined, "stop")), "data: [DONE]\n\n"],
  },
};

const anthropic: Sdk = {
  name: "anthropic",
  auth: "x-api-key",
  presented: { "x-api-key": "key-a", authorization: undefined },
  ok: anthropicMessage("claude-test"),

  errorBody: (type) => ({ type: "error", error: { type, message: type } }),
  BadRequestError: Anthropic.BadRequestError,
  RateLimitError: Anthropic.RateLimitError,
  APIUserAbortError: Anthropic.APIUserAbortError,
  async call(fetch, signal) {
    const message = await anthropicClient(fetch).messages.create(
      { model: "claude-test", max_tokens: 64, messages: [{ role: "user", content: "Hello" }] },
      signal === undefined ? {} : { signal },
    );
    return message.content[0]?.type === "text" ? message.content[0].text : "";
  },
  async stream(fetch, onPiece) {
    const stream = await anthropicClient(fetch).messages.create({
      model: "claude-test",
      max_tokens: 64,
      messages: [{ role: "user", content: "Hello" }],
      stream: true,
    });
    for await (const event of stream) {
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
        onPiece(event.delta.text);
      }
    }
  },
  streamEvents: {
    first: [
      sseEvent(
        {
          type: "message_start",
          message: {
            id: "msg_1",
            type: "message",
            role: "assistant",
            model: "claude-test",
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: 3, output_tokens: 0 },
          },
        },
        "message_start",
      ),
      sseEvent(
        { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
        "content_block_start",
      ),
      sseEvent(
        { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hel" } },
        "content_block_delta",
      ),
    ],
    rest: [
      sseEvent(
        { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "lo" } },
        "content_block_delta",
      ),
      sseEvent({ type: "content_block_stop", index: 0 }, "content_block_stop"),
      sseEvent(
        {
          type: "message_delta",
          delta: { stop_reason: "end_turn", stop_sequence: null },
          usage: { output_tokens: 2 },
        },
        "message_delta",
      ),
      sseEvent({ type: "message_stop" }, "message_stop"),
    ],
  },
};

/** authToken: null keeps an ANTHROPIC_AUTH_TOKEN in the environment out of the test. */
function anthropicClient(fetch: typeof globalThis.fetch): Anthropic {
  return new Anthropic({
    apiKey: SDK_OWN_KEY,
    authToken: null,
    baseURL: upstream.url,
    maxRetries: 0,
    fetch,
  });
}

describe.each([openai, anthropic])("the $name SDK with pooledFetch", (sdk) => {
  it("a normal call goes out with the pooled key, the SDK's own key nowhere", async () => {
    upstream.reply({ status: 200, body: sdk.ok });
    expect(await sdk.call(pooledFetch(keys, { auth: sdk.auth }))).toBe("hi");
    expect(upstream.seen.map((s) => s.token)).toEqual(["key-a"]);
    for (const [name, value] of Object.entries(sdk.presented)) {
      expect(upstream.seen[0]?.headers[name]).toBe(value);
    }
    expect(JSON.parse(upstream.seen[0]?.body ?? "")).toMatchObject({ model: expect.any(String) });
  });

  it("a streaming call is passed through as it arrives", async () => {
    const { reply, release } = sse(sdk.streamEvents.first, sdk.streamEvents.rest);
    upstream.reply(reply);
    const pieces: string[] = [];
    await sdk.stream(pooledFetch(keys, { auth: sdk.auth }), (piece) => {
      pieces.push(piece);
      // The upstream sends the rest only after the SDK has seen the first piece.
      if (pieces.length === 1) release();
    });
    expect(pieces.join("")).toBe("Hello");
  });

  it("a 429 on the first key fails over to the second: one upstream request per attempt", async () => {
    upstream.reply(
      { status: 429, headers: { "retry-after": "7" }, body: sdk.errorBody("rate_limit_error") },
      { status: 200, body: sdk.ok },
    );
    expect(await sdk.call(pooledFetch(keys, { auth: sdk.auth }))).toBe("hi");
    expect(upstream.seen.map((s) => s.token)).toEqual(["key-a", "key-b"]);
    expect(upstream.seen.map((s) => s.headers["x-stainless-retry-count"] ?? "0")).toEqual([
      "0",
      "0",
    ]);
    expect(keys.getCredentialHealthInfo("key-1")?.backoffUntil?.getTime()).toBe(NOW + 7_000);
  });

  it("when every key is rate limited the SDK raises its own RateLimitError", async () => {
    upstream.reply(
      { status: 429, body: sdk.errorBody("rate_limit_error") },
      { status: 429, headers: { "retry-after": "30" }, body: sdk.errorBody("rate_limit_error") },
    );
    const err = await sdk.call(pooledFetch(keys, { auth: sdk.auth })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(sdk.RateLimitError);
    expect((err as { headers: Headers }).headers.get("retry-after")).toBe("30");
    expect(upstream.seen).toHaveLength(2);
  });

  it("a 400 reaches the SDK as its BadRequestError, without failover or penalty", async () => {
    upstream.reply({ status: 400, body: sdk.errorBody("invalid_request_error") });
    const failures: unknown[] = [];
    keys.on("failure", (f) => failures.push(f));
    const err = await sdk.call(pooledFetch(keys, { auth: sdk.auth })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(sdk.BadRequestError);
    expect((err as { status: number }).status).toBe(400);
    expect(upstream.seen).toHaveLength(1);
    expect(failures).toEqual([]);
    expect(keys.getCredentialHealthInfo("key-1")?.state).toBe("healthy");
  });

  it("aborting the SDK call stops the upstream request", async () => {
    const { reply, arrived } = hang();
    upstream.reply(reply);
    const controller = new AbortController();
    const call = sdk.call(pooledFetch(keys, { auth: sdk.auth }), controller.signal);
    const res = await arrived;
    const closed = once(res, "close");
    controller.abort();
    await expect(call).rejects.toBeInstanceOf(sdk.APIUserAbortError);
    await closed;
    expect(upstream.seen).toHaveLength(1);
    expect(keys.getCredentialHealthInfo("key-1")?.state).toBe("healthy");
  });
});

describe("the Anthropic SDK with OAuth tokens through pooledFetch", () => {
  it("a 401 refreshes the token and the same request goes out again with the new one", async () => {
    upstream.reply(
      { status: 401, body: anthropic.errorBody("authentication_error") },
      { status: 200, body: anthropic.ok },
    );
    const manager = new OAuthKeyManager(
      "anthropic",
      [{ id: "team", accessToken: "old-token", refreshToken: "refresh-token" }],
      async (cred) => ({ ...cred, accessToken: "new-token" }),
      { now },
    );
    try {
      expect(await anthropic.call(pooledFetch(manager))).toBe("hi");
      expect(upstream.seen.map((s) => s.headers.authorization)).toEqual([
        "Bearer old-token",
        "Bearer new-token",
      ]);
      expect(upstream.seen.every((s) => s.headers["x-api-key"] === undefined)).toBe(true);
      expect(upstream.seen[1]?.body).toBe(upstream.seen[0]?.body);
    } finally {
      await manager.close();
    }
  });
});
