/**
 * Runs the `oauthmanager` CLI (src/cli/bin.ts through tsx) as a child process, as a user would:
 * its exit code, stdout and stderr; or, for commands that wait on the user (login), the running
 * child with a way to wait for a line of its output.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../src/cli/bin.ts", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of every run: no colour settings inherited from the shell running the tests. */
function cliEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env };
  delete base.NO_COLOR;
  delete base.FORCE_COLOR;
  delete base.OAUTHMANAGER_KEY;
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return base;
}

/** A running CLI: its output so far, a wait for a line, and its end. */
export interface RunningCli {
  child: ChildProcess;
  /** Resolves with the first stdout line matching `pattern` (now or later). */
  line(pattern: RegExp): Promise<string>;
  /** Resolves when the process has exited. */
  done: Promise<CliResult>;
}

export function startCli(args: string[], env: Record<string, string | undefined> = {}): RunningCli {
  const child = spawn(process.execPath, ["--import", "tsx", BIN, ...args], {
    env: cliEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const waiters: { pattern: RegExp; resolve(line: string): void }[] = [];
  const check = () => {
    for (const waiter of [...waiters]) {
      const found = stdout.split("\n").find((l) => waiter.pattern.test(l));
      if (found !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(found);
      }
    }
  };
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d;
    check();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d;
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  return {
    child,
    line(pattern) {
      return new Promise((resolve, reject) => {
        waiters.push({ pattern, resolve });
        check();
        void done.then(() =>
          reject(new Error(`the CLI exited without printing ${pattern}:\n${stdout}\n${stderr}`)),
        );
      });
    },
    done,
  };
}

/** Runs the CLI to its end. */
export function runCli(
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<CliResult> {
  return startCli(args, env).done;
}
