/**
 * `oauthmanager serve` as a real process: it prints its URL, reloads on SIGHUP (refusing an
 * invalid file), and on SIGTERM stops accepting, finishes the request in flight and exits 0.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { call } from "./support/gateway.js";
import { startUpstream, type Upstream } from "./support/upstream.js";

const KEY = "gw-client-key-0123456789";
const BIN = fileURLToPath(new URL("../src/cli/bin.ts", import.meta.url));

let upstream: Upstream;
let dir: string;
let child: ChildProcess | undefined;

afterEach(async () => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  child = undefined;
  await upstream.close();
  await rm(dir, { recursive: true, force: true });
});

const config = (key: string) => `
server:
  client_keys: ["${KEY}"]
providers:
  p:
    upstream: ${upstream.url}
    api_keys: ["${key}"]
`;

/** The child's stdout, line by line, with a way to wait for a line. */
function lines(proc: ChildProcess) {
  const seen: string[] = [];
  const waiters: { test: RegExp; resolve: (line: string) => void }[] = [];
  let buffer = "";
  proc.stdout?.on("data", (chunk: Buffer) => {
    buffer += chunk.toString("utf8");
    let nl = buffer.indexOf("\n");
    while (nl !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      seen.push(line);
      for (const w of waiters.splice(0)) {
        if (w.test.test(line)) w.resolve(line);
        else waiters.push(w);
      }
      nl = buffer.indexOf("\n");
    }
  });
  return {
    seen,
    waitFor(test: RegExp): Promise<string> {
      const found = seen.find((l) => test.test(l));
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ test, resolve }));
    },
  };
}

async function serve(file: string) {
  child = spawn(
    process.execPath,
    ["--import", "tsx", BIN, "serve", "--config", file, "--port", "0"],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const out = lines(child);
  const exited = new Promise<number | null>((resolve) =>
    child?.on("exit", (code) => resolve(code)),
  );
  const line = await out.waitFor(/http:\/\/127\.0\.0\.1:\d+/);
  const url = /http:\/\/127\.0\.0\.1:\d+/.exec(line)?.[0] ?? "";
  return { url, out, exited };
}

describe("oauthmanager serve", () => {
  it("reloads on SIGHUP, refuses an invalid file, and drains on SIGTERM, exiting 0", async () => {
    upstream = await startUpstream();
    dir = await mkdtemp(join(tmpdir(), "oauthmanager-serve-"));
    const file = join(dir, "config.yaml");
    await writeFile(file, config("k1"));
    const { url, out, exited } = await serve(file);

    upstream.reply({ status: 200 });
    expect((await call(`${url}/p/x`, KEY)).status).toBe(200);

    await writeFile(file, config("k2"));
    child?.kill("SIGHUP");
    await out.waitFor(/configuration reloaded/);
    upstream.reply({ status: 200 });
    expect((await call(`${url}/p/x`, KEY)).status).toBe(200);
    expect(upstream.seen.map((s) => s.token)).toEqual(["k1", "k2"]);

    await writeFile(file, `${config("k3")}    selection: fastest\n`);
    child?.kill("SIGHUP");
    expect(await out.waitFor(/reload refused/)).toContain("providers.p.selection");

    let arrived!: () => void;
    const inUpstream = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    upstream.reply(async (_req, res) => {
      arrived();
      await released;
      res.writeHead(200, { "content-type": "application/json" }).end('{"late":true}');
    });
    const inFlight = call(`${url}/p/slow`, KEY);
    await inUpstream;
    child?.kill("SIGTERM");
    await out.waitFor(/SIGTERM: draining/);
    // No new connection is accepted while the request in flight finishes.
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    release();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ late: true });
    expect(await exited).toBe(0);
    // The request log, written in pieces into the batch, reaches stdout by the exit at the latest.
    expect(out.seen.some((line) => /^GET p \/p\/slow 200 \S+ \d+ms$/.test(line))).toBe(true);
    expect(upstream.seen.at(-1)?.token).toBe("k2");
    expect(out.seen.join("\n")).not.toMatch(/k1"|k2"|gw-client-key/);
  });

  it("refuses to start without a client key", async () => {
    upstream = await startUpstream();
    dir = await mkdtemp(join(tmpdir(), "oauthmanager-serve-"));
    const file = join(dir, "config.yaml");
    await writeFile(file, `providers:\n  p:\n    upstream: ${upstream.url}\n    api_keys: [k1]\n`);
    child = spawn(
      process.execPath,
      ["--import", "tsx", BIN, "serve", "--config", file, "--port", "0"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let err = "";
    child.stderr?.on("data", (d: Buffer) => {
      err += d;
    });
    const code = await new Promise<number | null>((resolve) => child?.on("exit", resolve));
    expect(code).toBe(1);
    expect(err).toContain("server.client_keys");
  });
});
