/**
 * `oauthmanager demo`: the whole product on 127.0.0.1 with nothing to set up: a simulated
 * provider, the gateway in front of it, traffic through it, a live view and a summary. Ctrl-C
 * (SIGINT) or SIGTERM ends it early, and ends the wait of `--keep`.
 * @module
 */
import { runDemo } from "../demo/run.js";
import { isLiveTerminal } from "../demo/view.js";
import { UsageError } from "./args.js";
import { type Command, EXIT_FAILURE, EXIT_OK } from "./command.js";
import { reportFailure } from "./report.js";

const STOP_SIGNALS = ["SIGINT", "SIGTERM"] as const;

/** Longer would not fit a timer: about 24 days. */
const MAX_DURATION_SECONDS = 2_147_483;

/** The `demo` command. */
export const demoCommand: Command = {
  name: "demo",
  args: "[--duration SECONDS] [--keep]",
  summary: "see it work: a simulated provider, the gateway with three credentials, and traffic",
  options: {
    duration: {
      type: "string",
      valueName: "SECONDS",
      description: "how long the traffic runs (default: 20)",
    },
    keep: {
      type: "boolean",
      description: "leave the gateway and the simulated provider up afterwards, until Ctrl-C",
    },
  },
  async run(args, values, output) {
    if (args.length > 0) throw new UsageError(`demo takes no argument, got ${args.length}`, "demo");
    const durationMs = durationOption(values.duration);
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    for (const s of STOP_SIGNALS) process.on(s, onSignal);
    try {
      const summary = await runDemo({
        ...(durationMs === undefined ? {} : { durationMs }),
        keep: values.keep === true,
        out: output.out,
        live: isLiveTerminal(process.stdout.isTTY, process.env),
        signal: stop.signal,
      });
      // A run stopped before any answer came back did not fail; one that ran and got none did.
      if (summary.ok === 0 && !stop.signal.aborted) {
        output.err("oauthmanager: no request of the demo succeeded");
        return EXIT_FAILURE;
      }
      return EXIT_OK;
    } catch (e) {
      reportFailure(e, output);
      return EXIT_FAILURE;
    } finally {
      for (const s of STOP_SIGNALS) process.off(s, onSignal);
    }
  },
};

function durationOption(value: string | true | undefined): number | undefined {
  if (typeof value !== "string") return undefined;
  // Decimal seconds only: no hex, exponents or "Infinity" that Number() would also take.
  const seconds = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(seconds > 0 && seconds <= MAX_DURATION_SECONDS)) {
    throw new UsageError(
      `option --duration needs a positive number of seconds (at most ${MAX_DURATION_SECONDS}), such as 20 or 2.5`,
      "demo",
    );
  }
  return Math.max(1, Math.round(seconds * 1000));
}
