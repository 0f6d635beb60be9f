/**
 * `/admin/…`, behind `server.admin_key`: reload the configuration; refresh, disable or enable one
 * credential. Every action is a POST.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ConfigError, messageOf, RefreshError } from "../errors.js";
import type { ReloadResult } from "./gateway.js";
import { sendError, sendJson } from "./respond.js";
import type { GatewayState } from "./state.js";

const CREDENTIAL_ACTION =
  /^\/admin\/providers\/([^/]+)\/credentials\/([^/]+)\/(refresh|disable|enable)$/;

/** Answers an admin request (its key already checked). */
export async function handleAdmin(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  state: GatewayState,
  reload: () => Promise<ReloadResult>,
): Promise<{ status: number }> {
  if (req.method !== "POST") {
    res.setHeader("allow", "POST");
    return sendError(res, 405, "method_not_allowed", "admin actions are POST requests");
  }
  if (path === "/admin/reload") {
    const result = await reload();
    if (result.ok) {
      sendJson(res, 200, { reloaded: true });
      return { status: 200 };
    }
    const issues = result.error instanceof ConfigError ? result.error.issues : undefined;
    sendJson(res, 400, {
      reloaded: false,
      error: { type: "invalid_configuration", message: messageOf(result.error), issues },
    });
    return { status: 400 };
  }
  const match = CREDENTIAL_ACTION.exec(path);
  if (!match) return sendError(res, 404, "not_found", "no such admin action");
  const [, providerPart, idPart, action] = match as unknown as [string, string, string, string];
  const provider = decode(providerPart);
  const id = decode(idPart);
  const manager = provider === undefined ? undefined : state.managers.get(provider);
  if (manager === undefined || id === undefined || !manager.getCredentialHealthInfo(id)) {
    return sendError(res, 404, "not_found", "no such provider or credential");
  }
  if (action === "disable" || action === "enable") {
    if (action === "disable") manager.disableCredential(id);
    else manager.enableCredential(id);
    sendJson(res, 200, { provider, id, disabled: manager.isCredentialDisabled(id) });
    return { status: 200 };
  }
  try {
    const cred = await manager.refreshCredential(id, { force: true });
    sendJson(res, 200, {
      provider,
      id,
      refreshed: true,
      expires_at: cred.expiresAt?.toISOString() ?? null,
    });
    return { status: 200 };
  } catch (err) {
    // A RefreshError names the credential and the endpoint's verdict, never a token.
    const message = err instanceof RefreshError ? err.message : "the refresh failed";
    return sendError(res, 502, "refresh_failed", message);
  }
}

function decode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}
