/**
 * What the README promises about itself: it opens with the repository's two commands, cites no
 * internal design notes, its offline example runs as written and prints what the README says, and
 * its SDK example runs against a local fake API (test/sdk-clients.test.ts tests the behaviour).
 */
import { execFile } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/cli/main.js";
import { closeServer } from "./support/close-server.js";
import { anthropicMessage, chatCompletion } from "./support/sdk-answers.js";

const ROOT = new URL("../", import.meta.url);
const README = readFileSync(new URL("README.md", ROOT), "utf8");
/** What the example imports as "oauthmanager": the package's entry point, from source. */
const ENTRY = new URL("src/index.ts", ROOT).href;

/** The fenced code block right after `<!-- marker -->`. */
function blockAfter(marker: string): { lang: string; code: string } {
  const match = new RegExp(`<!-- ${marker} -->\\n\`\`\`(\\w*)\\n([\\s\\S]*?)\`\`\`\\n`).exec(
    README,
  );
  if (!match) throw new Error(`README.md has no code block after <!-- ${marker} -->`);
  return { lang: match[1] ?? "", code: match[2] ?? "" };
}

/** The cells of the first Markdown table in `lines`, separator row left out. */
function tableRows(lines: readonly string[]): string[][] {
  const first = lines.findIndex((l) => l.startsWith("|"));
  const rows: string[][] = [];
  for (const line of lines.slice(first)) {
    if (!line.startsWith("|")) break;
    const cells = line
      .slice(1, -1)
      .split("|")
      .map((c) => c.trim());
    if (!cells.every((c) => /^-+$/.test(c))) rows.push(cells);
  }
  return rows;
}

function run(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    // tsx lets the example import the TypeScript source; run from the repository so it resolves.
    execFile(
      process.execPath,
      args,
      { cwd: fileURLToPath(ROOT), env, timeout: 20_000 },
      (error, out, err) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, out, err });
      },
    );
  });
}

describe("README.md", () => {
  it("opens with the repository's two commands, then the line for library users", () => {
    const lines = README.split("\n");
    expect(lines.slice(0, 6)).toEqual([
      "# oauthmanager",
      "",
      "```sh",
      "npm install && npm start",
      "npm test",
      "```",
    ]);
    const next = lines.slice(6).find((l) => l.trim() !== "");
    expect(next).toContain("`npm install oauthmanager`");
  });

  it("cites no internal design notes or catalogue ids", () => {
    expect(README).not.toMatch(/\bseed\b|\boriginal\b|RELIABILITY|ANCHORS|\/work\/shared/i);
    expect(README).not.toMatch(/\b[A-Z]\d{1,3}\b/);
  });

  it("lists the Prometheus series exactly as the exporter's own table does", () => {
    const source = readFileSync(new URL("src/metrics/prometheus.ts", ROOT), "utf8");
    const fromSource = tableRows(source.split("\n").map((l) => l.replace(/^ \* /, "")));
    const start = README.indexOf("<!-- prometheus-table -->\n");
    expect(start).toBeGreaterThan(0);
    const fromReadme = tableRows(README.slice(start).split("\n").slice(1));
    expect(fromSource.length).toBeGreaterThan(10);
    expect(fromReadme).toEqual(fromSource);
  });

  it("shows the CLI's --help as the CLI prints it", async () => {
    const out: string[] = [];
    const code = await main(
      ["--help"],
      (line) => out.push(line),
      () => {},
    );
    expect(code).toBe(0);
    expect(blockAfter("cli-help")).toEqual({ lang: "text", code: `${out.join("\n")}\n` });
  });

  describe("the offline example", () => {
    let dir: string;
    let file: string;

    beforeAll(async () => {
      const { lang, code } = blockAfter("offline-example");
      expect(lang).toBe("js");
      // It needs nothing but the package: every import is "oauthmanager".
      const imports = [...code.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
      expect(imports).toEqual(["oauthmanager"]);
      dir = await mkdtemp(join(tmpdir(), "oauthmanager-readme-"));
      file = join(dir, "quickstart.mjs");
      await writeFile(file, code.replace('from "oauthmanager"', `from ${JSON.stringify(ENTRY)}`));
    });

    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("is plain JavaScript, as a .mjs file must be", async () => {
      const { code, err } = await run(["--check", file]);
      expect(err).toBe("");
      expect(code).toBe(0);
    });

    it("runs as written and prints what the README shows", async () => {
      const expected = blockAfter("offline-example-output");
      const { code, out, err } = await run(["--import", "tsx", file]);
      expect(err).toBe("");
      expect(code).toBe(0);
      expect(out).toBe(expected.code);
    });
  });
  describe("the SDK example", () => {
    it("runs against a local fake API through the SDKs' base-URL variables", async () => {
      const { lang, code } = blockAfter("sdk-example");
      expect(lang).toBe("ts");
      const seen: string[] = [];
      const server = createServer((req, res) => {
        req.resume();
        req.on("end", () => {
          const token = (req.headers.authorization ?? "").replace(/^Bearer /, "");
          seen.push(`${req.url} ${token || req.headers["x-api-key"]}`);
          res.setHeader("content-type", "application/json");
          if (token === "openai-a") {
            res.writeHead(429, { "retry-after": "7" });
            res.end(JSON.stringify({ error: { message: "slow down", type: "rate_limit" } }));
          } else if (req.url === "/v1/chat/completions") {
            res.end(JSON.stringify(chatCompletion("gpt-4o-mini")));
          } else {
            res.end(JSON.stringify(anthropicMessage("claude-sonnet-4-6")));
          }
        });
      });
      server.listen(0, "127.0.0.1");
      await once(server, "listening");
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      // Bare imports ("openai") resolve from where the file is: inside the repository's
      // node_modules, which git ignores.
      const dir = fileURLToPath(new URL("node_modules/.cache/oauthmanager-readme/", ROOT));
      await mkdir(dir, { recursive: true });
      const file = join(dir, `sdk-${process.pid}.mts`);
      try {
        const source = code.replace('from "oauthmanager"', `from ${JSON.stringify(ENTRY)}`);
        await writeFile(
          file,
          `${source}\nconsole.log(JSON.stringify({ text, id: message.id }));\n`,
        );
        const env: NodeJS.ProcessEnv = {
          PATH: process.env.PATH,
          OPENAI_BASE_URL: `${base}/v1`,
          ANTHROPIC_BASE_URL: base,
          OPENAI_KEY_A: "openai-a",
          OPENAI_KEY_B: "openai-b",
          ANTHROPIC_KEY_A: "anthropic-a",
        };
        const { code: exit, out, err } = await run(["--import", "tsx", file], env);
        expect(err).toBe("");
        expect(exit).toBe(0);
        expect(JSON.parse(out)).toEqual({ text: "hi", id: "msg_1" });
        // One request per attempt: the 429 failed over to the second key, nothing was retried.
        expect(seen).toEqual([
          "/v1/chat/completions openai-a",
          "/v1/chat/completions openai-b",
          "/v1/messages anthropic-a",
        ]);
      } finally {
        await rm(file, { force: true });
        await closeServer(server);
      }
    });
  });
});
