/**
 * `oauthmanager serve`: the gateway, from a configuration file, until SIGTERM or SIGINT. SIGHUP
 * reloads the file; an invalid one is refused and the running configuration keeps serving.
 * @module
 */
import { loadConfig } from "../config/parse.js";
import { Gateway } from "../gateway/gateway.js";
import { UsageError } from "./args.js";
import { type Command, EXIT_FAILURE, EXIT_OK, type Output } from "./command.js";
import { reportFailure } from "./report.js";

/** Signals `serve` answers, and the process events it would otherwise die of. */
const STOP_SIGNALS = ["SIGTERM", "SIGINT"] as const;

/** The `serve` command. */
export const serveCommand: Command = {
  name: "serve",
  args: "--config FILE [--host H] [--port N]",
  summary: "run the HTTP gateway in front of every provider's pool",
  options: {
    config: {
      type: "string",
      short: "c",
      valueName: "FILE",
      description: "the configuration file",
    },
    host: {
      type: "string",
      valueName: "H",
      description: "the address to listen on (default: server.host, else 127.0.0.1)",
    },
    port: {
      type: "string",
      valueName: "N",
      description: "the port (default: server.port, else 8787; 0 picks a free one)",
    },
  },
  async run(args, values, output) {
    if (args.length > 0)
      throw new UsageError(`serve takes no argument, got ${args.length}`, "serve");
    const path = typeof values.config === "string" ? values.config : undefined;
    if (path === undefined) {
      throw new UsageError(
        "serve needs a configuration file: oauthmanager serve --config FILE",
        "serve",
      );
    }
    const port = portOption(values.port);
    const host = typeof values.host === "string" ? values.host : undefined;
    const log = batchedLines(output.out);
    let gateway: Gateway;
    try {
      const config = await loadConfig(path);
      gateway = await Gateway.start(config, {
        load: () => loadConfig(path),
        ...(host === undefined ? {} : { host }),
        ...(port === undefined ? {} : { port }),
        log: log.write,
      });
    } catch (e) {
      log.close();
      reportFailure(e, output);
      return EXIT_FAILURE;
    }
    output.out(`oauthmanager gateway listening on ${gateway.url}`);
    try {
      return await serveUntilStopped(gateway, output);
    } finally {
      log.close();
    }
  },
};

/** Resolves with the exit code once a stop signal has drained and closed the gateway. */
function serveUntilStopped(gateway: Gateway, output: Output): Promise<number> {
  return new Promise((resolve) => {
    const reload = () => {
      void gateway.reload();
    };
    const stop = (signal: string) => {
      output.out(`${signal}: draining requests in flight`);
      process.off("SIGHUP", reload);
      for (const s of STOP_SIGNALS) process.off(s, stop);
      gateway.close().then(
        () => resolve(EXIT_OK),
        (e: unknown) => {
          reportFailure(e, output);
          resolve(EXIT_FAILURE);
        },
      );
    };
    process.on("SIGHUP", reload);
    for (const s of STOP_SIGNALS) process.on(s, stop);
  });
}

/** How long a request's log line may wait to be written with the ones after it. */
const LOG_FLUSH_MS = 50;
/** Lines held at most: a burst past this is written at once. */
const LOG_MAX_PENDING = 1_000;

/**
 * Lines handed to `out` together, at most {@link LOG_FLUSH_MS} after the first of them: one write
 * per burst of requests instead of one per request. A write to a file or pipe is a system call,
 * and the log would otherwise cost a busy gateway more than a tenth of its throughput. The lines
 * held are written when the process exits, however it exits.
 */
function batchedLines(out: (line: string) => void) {
  let pending: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const lines = pending;
    pending = [];
    out(lines.join("\n"));
  };
  process.once("exit", flush);
  return {
    write(line: string) {
      pending.push(line);
      if (pending.length >= LOG_MAX_PENDING) flush();
      else if (timer === undefined) {
        // Unref'd: a log line waiting is no reason to stay alive; the exit hook writes it.
        timer = setTimeout(flush, LOG_FLUSH_MS);
        timer.unref();
      }
    },
    /** Writes what is held and stops watching for the exit. */
    close() {
      flush();
      process.off("exit", flush);
    },
  };
}

function portOption(value: string | true | undefined): number | undefined {
  if (typeof value !== "string") return undefined;
  const port = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(port >= 0 && port <= 65_535)) {
    throw new UsageError("option --port needs a whole number from 0 to 65535", "serve");
  }
  return port;
}
