/**
 * The official OpenAI and Anthropic clients pointed at the gateway (their `baseURL`, the gateway
 * key as their API key) against a local upstream: a normal and a streaming call each.
 */
import type { ServerResponse } from "node:http";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { startGateway, type TestGateway } from "./support/gateway.js";
import { anthropicMessage, chatCompletion } from "./support/sdk-answers.js";
import { startUpstream, type Upstream } from "./support/upstream.js";

const KEY = "gw-client-key-0123456789";
let upstream: Upstream;
let gw: TestGateway;

afterEach(async () => {
  await gw.close();
  await upstream.close();
});

function sse(res: ServerResponse, events: string[]): void {
  res.writeHead(200, { "content-type": "text/event-stream" });
  for (const event of events) res.write(event);
  res.end();
}

async function start(): Promise<void> {
  upstream = await startUpstream();
  gw = await startGateway(`
server:
  client_keys: ["${KEY}"]
providers:
  openai:
    upstream: ${upstream.url}/v1
    api_keys: ["sk-openai-upstream"]
  anthropic:
    upstream: ${upstream.url}
    api_keys: ["sk-ant-upstream"]
`);
}

describe("official SDKs through the gateway", () => {
  it("OpenAI: a chat completion and a streamed one", async () => {
    await start();
    const client = new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/openai`, maxRetries: 0 });
    upstream.reply({ status: 200, body: chatCompletion("gpt-test") });
    const completion = await client.chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "hello" }],
    });
    expect(completion.choices[0]?.message.content).toBe("hi");

    const chunk = (content: string) =>
      `data: ${JSON.stringify({
        id: "c1",
        object: "chat.completion.chunk",
        created: 0,
        model: "gpt-test",
        choices: [{ index: 0, delta: { content }, finish_reason: null }],
      })}\n\n`;
    upstream.reply((_req, res) => sse(res, [chunk("h"), chunk("i"), "data: [DONE]\n\n"]));
    const stream = await client.chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "hello" }],
      stream: true,
    });
    let text = "";
    for await (const part of stream) text += part.choices[0]?.delta.content ?? "";
    expect(text).toBe("hi");

    expect(upstream.seen.map((s) => [s.path, s.headers.authorization])).toEqual([
      ["/v1/chat/completions", "Bearer sk-openai-upstream"],
      ["/v1/chat/completions", "Bearer sk-openai-upstream"],
    ]);
  });

  it("Anthropic: a message and a streamed one", async () => {
    await start();
    const client = new Anthropic({ apiKey: KEY, baseURL: `${gw.url}/anthropic`, maxRetries: 0 });
    upstream.reply({ status: 200, body: anthropicMessage("claude-test") });
    const message = await client.messages.create({
      model: "claude-test",
      max_tokens: 10,
      messages: [{ role: "user", content: "hello" }],
    });
    expect(message.content[0]).toMatchObject({ type: "text", text: "hi" });

    const event = (type: string, data: object) =>
      `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    upstream.reply((_req, res) =>
      sse(res, [
        event("message_start", {
          message: { ...anthropicMessage("claude-test"), content: [], stop_reason: null },
        }),
        event("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
        event("content_block_delta", { index: 0, delta: { type: "text_delta", text: "h" } }),
        event("content_block_delta", { index: 0, delta: { type: "text_delta", text: "i" } }),
        event("content_block_stop", { index: 0 }),
        event("message_delta", {
          delta: { stop_reason: "end_turn", stop_sequence: null },
          usage: { output_tokens: 2 },
        }),
        event("message_stop", {}),
      ]),
    );
    const stream = client.messages.stream({
      model: "claude-test",
      max_tokens: 10,
      messages: [{ role: "user", content: "hello" }],
    });
    let text = "";
    stream.on("text", (t) => {
      text += t;
    });
    await stream.finalMessage();
    expect(text).toBe("hi");

    for (const seen of upstream.seen) {
      expect(seen.path).toBe("/v1/messages");
      expect(seen.headers["x-api-key"]).toBe("sk-ant-upstream");
      expect(JSON.stringify(seen.headers)).not.toContain(KEY);
    }
    expect(upstream.seen).toHaveLength(2);
  });
});
