/**
 * The `oauthmanager` command. Today: `check` validates a configuration file and prints what it
 * would build, never a secret. The `serve` gateway comes in a later release.
 * @module
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadConfig } from "../config/parse.js";
import { isOAuthManagerError } from "../errors.js";

const USAGE = `Usage: oauthmanager <command> [options]

Commands:
  check --config FILE   validate a configuration file and list its providers and credentials
  help                  show this text

Options:
  --version             print the version`;

/** Runs the CLI with `argv` (without node and the script); returns the exit code. */
export async function main(
  argv: readonly string[],
  out: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  err: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    err(`oauthmanager: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    out(version());
    return 0;
  }
  const [command] = positionals;
  switch (command) {
    case undefined:
    case "help":
      out(USAGE);
      return 0;
    case "check":
      return check(values.config, out, err);
    case "serve":
      err("oauthmanager: `serve` is not available in this version");
      return 2;
    default:
      err(`oauthmanager: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: { config: { type: "string", short: "c" }, version: { type: "boolean" } },
  });
}

async function check(
  path: string | undefined,
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  if (!path) {
    err("oauthmanager: check needs --config FILE");
    return 2;
  }
  try {
    const config = await loadConfig(path);
    out(`${path}: ok`);
    for (const [name, provider] of Object.entries(config.providers)) {
      const ids = [
        ...provider.oauthCredentials.map((c) => c.id),
        ...provider.apiKeys.map((_, i) => `key-${i + 1}`),
      ];
      out(`  ${name}: ${ids.length} credential(s): ${ids.join(", ")}`);
    }
    if (config.store) out(`  store: ${config.store.type}`);
    return 0;
  } catch (e) {
    // Config errors name paths and variables, never values.
    err(isOAuthManagerError(e) ? e.message : `oauthmanager: ${(e as Error).message}`);
    return 1;
  }
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}
