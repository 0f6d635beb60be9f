/**
 * `oauthmanager check`: validates a configuration file and prints what it would build: provider
 * names, credential ids, the store type. Never a secret: the config's errors name paths only.
 * @module
 */
import { loadConfig } from "../config/parse.js";
import { UsageError } from "./args.js";
import { type Command, EXIT_FAILURE, EXIT_OK } from "./command.js";
import { reportFailure } from "./report.js";

/** The `check` command. */
export const checkCommand: Command = {
  name: "check",
  args: "[--config] FILE",
  summary: "validate a configuration file and list its providers and credentials",
  options: {
    config: {
      type: "string",
      short: "c",
      valueName: "FILE",
      description: "the configuration file (or give it as FILE)",
    },
  },
  async run(args, values, output) {
    const path = configPath(args, values.config);
    try {
      const config = await loadConfig(path);
      output.out(`${path}: ok`);
      for (const [name, provider] of Object.entries(config.providers)) {
        const ids = [
          ...provider.oauthCredentials.map((c) => c.id),
          ...provider.apiKeys.map((_, i) => `key-${i + 1}`),
        ];
        output.out(`  ${name}: ${ids.length} credential(s): ${ids.join(", ")}`);
      }
      if (config.store) output.out(`  store: ${config.store.type}`);
      return EXIT_OK;
    } catch (e) {
      reportFailure(e, output);
      return EXIT_FAILURE;
    }
  },
};

function configPath(args: readonly string[], option: string | true | undefined): string {
  const fromOption = typeof option === "string" ? option : undefined;
  if (args.length > 1) throw new UsageError(`check takes one FILE, got ${args.length}`, "check");
  if (fromOption !== undefined && args.length === 1) {
    throw new UsageError(
      "check takes one configuration file, given both as FILE and with --config",
      "check",
    );
  }
  const path = fromOption ?? args[0];
  if (!path) {
    throw new UsageError("check needs a configuration file: oauthmanager check FILE", "check");
  }
  return path;
}
