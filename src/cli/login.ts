/**
 * `oauthmanager login`: signs an account in with the provider's own flow and adds it to the
 * configuration's store, where the pool picks it up.
 * @module
 */
import { spawn } from "node:child_process";
import { loadConfig } from "../config/parse.js";
import type { ProviderConfig } from "../config/types.js";
import { isPresetProvider, PROVIDER_CATALOG } from "../providers/catalog.js";
import { loginCredentialId } from "../providers/import.js";
import { span } from "../terminal.js";
import type { OAuthCredentialSet } from "../types.js";
import { UsageError } from "./args.js";
import { type Command, EXIT_OK } from "./command.js";
import { CONFIG_OPTION, requireConfig, stringOption } from "./config-file.js";
import { LOGIN_TIMEOUT_MS, loginSettings, signIn, type TokenAnswer } from "./login-flow.js";
import { checkId, checkTarget, saveLogin } from "./save-login.js";

/** The CLI whose login files use the same ids, per preset provider (see `import`). */
const ID_KIND: Readonly<Record<string, string>> = {
  gemini: "gemini-cli",
  qwen: "qwen-code",
  anthropic: "claude-code",
  openai: "codex",
};

/** The `login` command. */
export const loginCommand: Command = {
  name: "login",
  args: "PROVIDER --config FILE [--open]",
  summary: "sign an account in with the provider's own flow and add it to the store",
  options: {
    config: CONFIG_OPTION,
    open: { type: "boolean", description: "open the sign-in page in a browser" },
    id: {
      type: "string",
      valueName: "ID",
      description: "the credential id (default: derived from the account, never from a token)",
    },
  },
  async run(args, values, output) {
    const [name, ...extra] = args;
    if (name === undefined) throw new UsageError("login needs a PROVIDER", "login");
    if (extra.length > 0) throw new UsageError("login takes one PROVIDER", "login");
    const path = requireConfig("login", values);
    const config = await loadConfig(path);
    checkTarget(config, name, path);
    const provider = config.providers[name] as ProviderConfig;
    const idOption = stringOption(values, "id");
    if (idOption !== undefined) checkId(idOption, config, name);
    const settings = loginSettings(name, provider);
    const answer = await signIn(
      settings,
      (lines) => {
        for (const line of lines) output.out(line);
      },
      values.open ? openBrowser : undefined,
      AbortSignal.timeout(LOGIN_TIMEOUT_MS),
    );
    const cred = credentialFrom(name, answer, idOption);
    if (idOption === undefined) checkId(cred.id, config, name);
    const { updated } = await saveLogin(config, name, cred);
    const expiry = cred.expiresAt
      ? `, token expires in ${span(cred.expiresAt.getTime() - Date.now())}`
      : "";
    const refresh = cred.refreshToken ? "" : " (no refresh token: sign in again when it expires)";
    output.out(`signed in: ${updated ? "updated" : "added"} ${name}/${cred.id}${expiry}${refresh}`);
    return EXIT_OK;
  },
};

/** The credential a token answer makes: never keeps the id_token, only facts from it. */
function credentialFrom(
  provider: string,
  answer: TokenAnswer,
  id: string | undefined,
): OAuthCredentialSet {
  const now = Date.now();
  const providerData = isPresetProvider(provider)
    ? PROVIDER_CATALOG[provider].hooks.providerData?.(answer)
    : undefined;
  const idToken = typeof answer.id_token === "string" ? answer.id_token : undefined;
  const cred: OAuthCredentialSet = {
    id:
      id ??
      loginCredentialId(ID_KIND[provider] ?? provider, {
        accessToken: answer.access_token,
        ...(answer.refresh_token && { refreshToken: answer.refresh_token }),
        ...(idToken && { idToken }),
        ...(providerData?.accountId && { accountId: providerData.accountId }),
      }),
    accessToken: answer.access_token,
    lastRefresh: new Date(now),
  };
  if (answer.refresh_token) cred.refreshToken = answer.refresh_token;
  if (typeof answer.expires_in === "number" && answer.expires_in > 0) {
    cred.expiresAt = new Date(now + answer.expires_in * 1000);
  }
  if (typeof answer.scope === "string" && answer.scope.trim() !== "") {
    cred.scopes = answer.scope.split(/\s+/).filter(Boolean);
  }
  if (providerData) cred.providerData = providerData;
  return cred;
}

/** Opens `url` with the desktop's opener; a failure only means the user opens it by hand. */
function openBrowser(url: string): void {
  const [command, args] =
    process.platform === "darwin"
      ? ["open", [url]]
      : process.platform === "win32"
        ? ["cmd", ["/c", "start", "", url]]
        : ["xdg-open", [url]];
  try {
    const child = spawn(command, args, { stdio: "ignore", detached: true });
    child.on("error", () => {});
    child.unref();
  } catch {
    // The URL is printed above.
  }
}
