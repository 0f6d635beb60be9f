/**
 * `oauthmanager import`: adds the login a provider's own CLI left on disk (Gemini CLI, Qwen Code,
 * Claude Code, Codex) to the configuration's store, where the pool picks it up.
 * @module
 */
import { loadConfig } from "../config/parse.js";
import {
  defaultCredentialsPath,
  IMPORT_KINDS,
  type ImportKind,
  importCredentials,
} from "../providers/import.js";
import { span } from "../terminal.js";
import { UsageError } from "./args.js";
import { type Command, EXIT_OK } from "./command.js";
import { CONFIG_OPTION, requireConfig, stringOption } from "./config-file.js";
import { checkId, checkTarget, saveLogin } from "./save-login.js";

/** The provider each CLI's login belongs to, as configuration names it. */
const PROVIDER_OF: Readonly<Record<ImportKind, string>> = {
  "gemini-cli": "gemini",
  "qwen-code": "qwen",
  "claude-code": "anthropic",
  codex: "openai",
};

/** The `import` command. */
export const importCommand: Command = {
  name: "import",
  args: "CLI [FILE] --config FILE",
  summary: `add a login a provider's CLI saved to the store (${IMPORT_KINDS.join(", ")})`,
  options: {
    config: CONFIG_OPTION,
    provider: {
      type: "string",
      valueName: "NAME",
      description: "the configured provider it joins (default: gemini, qwen, anthropic or openai)",
    },
    id: {
      type: "string",
      valueName: "ID",
      description: "the credential id (default: derived from the account, never from a token)",
    },
  },
  async run(args, values, output) {
    const [kindArg, file, ...extra] = args;
    if (kindArg === undefined) {
      throw new UsageError(`import needs the CLI: one of ${IMPORT_KINDS.join(", ")}`, "import");
    }
    if (!(IMPORT_KINDS as readonly string[]).includes(kindArg)) {
      throw new UsageError(
        `import reads ${IMPORT_KINDS.join(", ")}; not "${kindArg.slice(0, 24)}"`,
        "import",
      );
    }
    if (extra.length > 0) throw new UsageError("import takes a CLI and at most one FILE", "import");
    const kind = kindArg as ImportKind;
    const path = requireConfig("import", values);
    const config = await loadConfig(path);
    const provider = stringOption(values, "provider") ?? PROVIDER_OF[kind];
    checkTarget(config, provider, path);
    const idOption = stringOption(values, "id");
    if (idOption !== undefined) checkId(idOption, config, provider);
    const source = file ?? defaultCredentialsPath(kind);
    const [cred] = await importCredentials(kind, source);
    if (!cred) throw new Error(`${source} holds no login`);
    if (idOption !== undefined) cred.id = idOption;
    else checkId(cred.id, config, provider);
    const { updated } = await saveLogin(config, provider, cred);
    const expiry = cred.expiresAt
      ? cred.expiresAt.getTime() > Date.now()
        ? `, token expires in ${span(cred.expiresAt.getTime() - Date.now())}`
        : ", token expired (refreshed before first use)"
      : "";
    output.out(
      `${updated ? "updated" : "imported"} ${provider}/${cred.id} from ${source}${expiry}`,
    );
    return EXIT_OK;
  },
};
