/**
 * `oauthmanager validate` (also `check`): validates a configuration file and prints what it
 * would build: provider names, credential ids, the store type. Never a secret: the config's
 * errors name paths only.
 * @module
 */
import { apiKeyId } from "../config/cross-checks.js";
import { loadConfig } from "../config/parse.js";
import { UsageError } from "./args.js";
import { type Command, EXIT_OK } from "./command.js";
import { CONFIG_OPTION, stringOption } from "./config-file.js";

/** The `validate` command. */
export const validateCommand: Command = {
  name: "validate",
  aliases: ["check"],
  args: "[--config] FILE",
  summary: "validate a config file, list its providers and credentials (alias: check)",
  options: {
    config: { ...CONFIG_OPTION, description: "the configuration file (or give it as FILE)" },
  },
  async run(args, values, output) {
    const path = configPath(args, stringOption(values, "config"));
    const config = await loadConfig(path);
    output.out(`${path}: ok`);
    for (const [name, provider] of Object.entries(config.providers)) {
      const ids = [
        ...provider.oauthCredentials.map((c) => c.id),
        ...provider.apiKeys.map((_, i) => apiKeyId(i)),
      ];
      output.out(
        ids.length === 0
          ? `  ${name}: no credentials in the file (logins come from the store)`
          : `  ${name}: ${ids.length} credential(s): ${ids.join(", ")}`,
      );
    }
    if (config.store) output.out(`  store: ${config.store.type}`);
    return EXIT_OK;
  },
};

function configPath(args: readonly string[], fromOption: string | undefined): string {
  if (args.length > 1)
    throw new UsageError(`validate takes one FILE, got ${args.length}`, "validate");
  if (fromOption !== undefined && args.length === 1) {
    throw new UsageError(
      "validate takes one configuration file, given both as FILE and with --config",
      "validate",
    );
  }
  const path = fromOption ?? args[0];
  if (!path) {
    throw new UsageError(
      "validate needs a configuration file: oauthmanager validate FILE",
      "validate",
    );
  }
  return path;
}
