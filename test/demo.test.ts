/**
 * `oauthmanager demo` as a user runs it: a child process whose stdout is a pipe (not a terminal),
 * with the simulated provider, the gateway and the traffic all inside it. Each test waits for
 * the process's output or exit, never for time.
 */
import { describe, expect, it } from "vitest";
import { main } from "../src/cli/main.js";
import { type RunningCli, startCli } from "./support/run-cli.js";

/** A figure of the summary: `  name   123  (note)`. */
function figure(out: string, name: string): { value: number; note: string } {
  const escaped = name.replace(/[/]/g, "\\/");
  const match = new RegExp(`^ {2}${escaped} +(\\d+)(?: {2}\\((.*)\\))?$`, "m").exec(out);
  if (!match) throw new Error(`no "${name}" in the summary:\n${out}`);
  return { value: Number(match[1]), note: match[2] ?? "" };
}

const STATUS_PAGE = /^Status page: (http:\/\/127\.0\.0\.1:\d+)\/#key=(demo-[\w-]+)$/m;

/** What no output of the demo may hold: an escape code when not on a terminal, or a token. */
function expectCleanOutput(text: string): void {
  expect(text).not.toContain("\u001b");
  expect(text).not.toMatch(/sim-(?:at|rt)-/);
}

async function stopped(cli: RunningCli, signal: NodeJS.Signals) {
  cli.child.kill(signal);
  return cli.done;
}

describe("oauthmanager demo", () => {
  it("runs for --duration, exits 0 by itself and prints a consistent summary and the status page", async () => {
    const { code, stdout, stderr } = await startCli(["demo", "--duration", "3"]).done;
    expect(stderr).not.toContain("oauthmanager:");
    expect(code).toBe(0);
    expectCleanOutput(stdout + stderr);

    const requests = figure(stdout, "requests").value;
    const successes = figure(stdout, "successes").value;
    const errors = figure(stdout, "client errors");
    expect(requests).toBeGreaterThan(0);
    expect(successes).toBeGreaterThan(0);
    expect(successes + errors.value).toBe(requests);
    // Each client-visible error is listed by kind, and none is claimed that did not happen.
    const listed = [...errors.note.matchAll(/(\d+) × /g)].reduce((n, m) => n + Number(m[1]), 0);
    expect(listed).toBe(errors.value);

    const refreshes = figure(stdout, "refreshes");
    expect(refreshes.value).toBeGreaterThanOrEqual(1);
    // The provider refuses a rotated-out refresh token: the pool never presented one.
    expect(refreshes.note).toContain("0 reused token(s) refused");

    const absorbed = figure(stdout, "429/503 absorbed");
    const [, r429, r503] = /^(\d+) × 429, (\d+) × 503$/.exec(absorbed.note) ?? [];
    expect(Number(r429) + Number(r503)).toBe(absorbed.value);
    // Every absorbed 429 or 503 was a failover to the next credential.
    expect(figure(stdout, "failovers").value).toBeGreaterThanOrEqual(absorbed.value);
    expect(figure(stdout, "p95 latency ms").value).toBeGreaterThan(0);

    // The table of credentials, then the status page's address with this run's key.
    for (const id of ["account-a", "account-b", "account-c"]) {
      expect(stdout).toMatch(new RegExp(`^ {2}${id} +(healthy|cooling) `, "m"));
    }
    expect(stdout).toMatch(STATUS_PAGE);
  });

  it("with --keep serves the status page and /status after the summary, until SIGTERM", async () => {
    const cli = startCli(["demo", "--duration", "1", "--keep"]);
    await cli.line(/Ctrl-C to stop/);
    const [, url, key] = STATUS_PAGE.exec(await cli.line(STATUS_PAGE)) as unknown as [
      string,
      string,
      string,
    ];
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    await page.body?.cancel();

    const status = (await (
      await fetch(`${url}/status`, { headers: { authorization: `Bearer ${key}` } })
    ).json()) as {
      providers: {
        sim: { credentials: Record<string, { refresh_count: number; request_count: number }> };
      };
    };
    const credentials = Object.values(status.providers.sim.credentials);
    expect(credentials).toHaveLength(3);

    const { code, stdout, stderr } = await stopped(cli, "SIGTERM");
    expect(code).toBe(0);
    expectCleanOutput(stdout + stderr);
    // The summary agrees with what the gateway counted: attempts on credentials, and refreshes
    // (which go on while it waits).
    const sum = (k: "refresh_count" | "request_count") => credentials.reduce((n, c) => n + c[k], 0);
    const requests = figure(stdout, "requests").value;
    if (figure(stdout, "client errors").value === 0) {
      // Each request took one attempt that succeeded, and one more for each failover.
      expect(sum("request_count")).toBe(requests + figure(stdout, "failovers").value);
    } else {
      expect(sum("request_count")).toBeGreaterThanOrEqual(requests);
    }
    expect(sum("refresh_count")).toBeGreaterThanOrEqual(figure(stdout, "refreshes").value);
    // Closed: nothing answers on its port any more.
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it("Ctrl-C (SIGINT) ends a long run early with its summary and exits 0, even with --keep", async () => {
    const cli = startCli(["demo", "--duration", "600", "--keep"]);
    // The first periodic line: traffic is flowing.
    await cli.line(/^ *\d+s {2}requests \d+, ok \d+/);
    const { code, stdout } = await stopped(cli, "SIGINT");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Summary: /m);
    expect(figure(stdout, "requests").value).toBeGreaterThan(0);
    // Ctrl-C during the run ends everything, not only the traffic.
    expect(stdout).not.toContain("Ctrl-C to stop");
  });
});

describe("oauthmanager demo's command line", () => {
  /** What `main` wrote, each line marked with its stream, and then the exit code. */
  async function run(...argv: string[]): Promise<string[]> {
    const lines: string[] = [];
    const code = await main(
      argv,
      (l) => lines.push(`out: ${l}`),
      (l) => lines.push(`err: ${l}`),
    );
    return [...lines, `exit ${code}`];
  }

  it.each([["0"], ["-1"], ["abc"], ["1e3"], ["Infinity"], ["0x10"], ["2147484"], [""]])(
    "refuses --duration=%s with exit code 2 and one line saying what is expected",
    async (value) => {
      expect(await run("demo", `--duration=${value}`)).toEqual([
        "err: oauthmanager: option --duration needs a positive number of seconds (at most 2147483), such as 20 or 2.5",
        'err: Run "oauthmanager demo --help" for usage.',
        "exit 2",
      ]);
    },
  );

  it("refuses an argument, and --keep with a value", async () => {
    expect((await run("demo", "now"))[0]).toBe("err: oauthmanager: demo takes no argument, got 1");
    expect((await run("demo", "--keep=yes"))[0]).toBe(
      "err: oauthmanager: option --keep takes no value",
    );
  });

  it("is listed in the help, with its options", async () => {
    const help = (await run("--help")).join("\n");
    expect(help).toMatch(/^ {2}demo \[--duration SECONDS\] \[--keep\] +\S/m);
    const own = (await run("demo", "--help")).join("\n");
    expect(own).toMatch(/^ {2}--duration SECONDS +\S/m);
    expect(own).toMatch(/^ {2}--keep +\S/m);
    expect(own).toMatch(/^out: Usage: oauthmanager demo \[--duration SECONDS\] \[--keep\]$/m);
    expect(own).toMatch(/\nexit 0$/);
  });
});
