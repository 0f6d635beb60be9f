/**
 * How a monitoring configuration and its webhook target are shown in logs, errors, `util.inspect`
 * and `JSON.stringify`: without the webhook secret, and with the webhook URL cut to its origin,
 * because Slack and Discord keep their secret in the URL's path and other services in its query.
 * @module
 */
import { hidden, redactingPrototype } from "../redacting-view.js";

/**
 * The origin of a webhook URL (`https://hooks.slack.com`): the one part that is safe to show.
 * `[invalid URL]` for one that does not parse.
 */
export function webhookOrigin(url: string | URL): string {
  try {
    return (typeof url === "string" ? new URL(url) : url).origin;
  } catch {
    return "[invalid URL]";
  }
}

/**
 * The prototype of every monitoring configuration handed out: inspecting or serialising it
 * shows no secret; reading its fields gives the real values.
 */
export const MONITORING_CONFIG_VIEW: object = redactingPrototype({
  webhookSecret: hidden,
  webhookUrl: (url) => (typeof url === "string" ? webhookOrigin(url) : url),
});
