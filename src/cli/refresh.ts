/**
 * `oauthmanager refresh`: refreshes tokens now, through each manager's single-flight path, and
 * writes them to the configuration's store, so a gateway or another process picks them up.
 * @module
 */
import { messageOf } from "../errors.js";
import type { OAuthKeyManager } from "../manager/oauth-key-manager.js";
import { span } from "../terminal.js";
import { type Command, EXIT_FAILURE, EXIT_OK } from "./command.js";
import { atMost, CONFIG_OPTION, openPool, requireConfig } from "./config-file.js";
import { pick } from "./pick.js";

/** The `refresh` command. */
export const refreshCommand: Command = {
  name: "refresh",
  args: "[PROVIDER [ID]] --config FILE",
  summary: "refresh tokens now (all, a provider's, or one credential) and store them",
  options: { config: CONFIG_OPTION },
  async run(args, values, output) {
    atMost("refresh", args, 2, "a PROVIDER and an ID");
    const pool = await openPool(requireConfig("refresh", values));
    try {
      const [providerName, id] = args;
      const providers = [...pool.managers.keys()];
      const chosen =
        providerName === undefined
          ? providers
          : [pick("provider", providerName, providers, "the configuration")];
      let refreshed = 0;
      let failed = 0;
      let skipped = 0;
      for (const name of chosen) {
        const manager = pool.managers.get(name) as OAuthKeyManager;
        const creds = manager.getCredentials();
        const ids = creds.map((c) => c.id);
        const targets =
          id === undefined
            ? creds
            : creds.filter((c) => c.id === pick("credential", id, ids, name));
        for (const cred of targets) {
          const label = `${name}/${cred.id}`;
          if (!cred.refreshToken) {
            skipped++;
            output.out(`${label}: skipped (no refresh token)`);
            continue;
          }
          try {
            const fresh = await manager.refreshCredential(cred.id, { force: true });
            refreshed++;
            const until = fresh.expiresAt
              ? `expires in ${span(fresh.expiresAt.getTime() - Date.now())}`
              : "no expiry";
            output.out(`${label}: refreshed, ${until}`);
          } catch (err) {
            failed++;
            output.out(`${label}: FAILED: ${messageOf(err)}`);
          }
        }
      }
      const summary = [`${refreshed} refreshed`, `${failed} failed`];
      if (skipped > 0) summary.push(`${skipped} skipped`);
      output.out(summary.join(", "));
      if (failed > 0) {
        output.err(`oauthmanager: ${failed} of ${refreshed + failed} refreshes failed`);
        return EXIT_FAILURE;
      }
      return EXIT_OK;
    } finally {
      await pool.close();
    }
  },
};
