import { describe, expect, it } from "vitest";
import { type AuthStyle, authHeaders } from "./auth.js";

const TOKEN = "tok-canary-6f1d";

describe("authHeaders", () => {
  it.each<[AuthStyle, Record<string, string>]>([
    ["bearer", { authorization: `Bearer ${TOKEN}` }],
    ["x-api-key", { "x-api-key": TOKEN }],
    ["x-goog-api-key", { "x-goog-api-key": TOKEN }],
    [{ header: "Api-Key", template: "{token}" }, { "api-key": TOKEN }],
    [{ header: "Authorization", template: "Token {token}" }, { authorization: `Token ${TOKEN}` }],
    [{ header: "x-pair", template: "{token}:{token}" }, { "x-pair": `${TOKEN}:${TOKEN}` }],
  ])("%j presents the token as %j", (style, expected) => {
    expect(authHeaders(style, TOKEN)).toEqual(expected);
  });

  it.each([
    ["a CR", `${TOKEN}\r`],
    ["a LF", `${TOKEN}\nx-injected: 1`],
    ["a NUL", `${TOKEN}\0`],
  ])("refuses a token with %s, without quoting it", (_, token) => {
    for (const style of ["bearer", "x-api-key", { header: "a", template: "{token}" }] as const) {
      const err = (() => {
        try {
          authHeaders(style, token);
        } catch (e) {
          return e as Error;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(TypeError);
      expect(err?.message).toContain("CR, LF or NUL");
      expect(err?.message).not.toContain(TOKEN);
    }
  });

  it("refuses an empty or missing token", () => {
    expect(() => authHeaders("bearer", "")).toThrow(
      "Expected `token` to be a non-empty string, got an empty string",
    );
    expect(() => authHeaders("bearer", undefined as unknown as string)).toThrow("got undefined");
  });

  it.each([
    ["an unknown name", "basic", 'Expected `auth` to be "bearer"'],
    ["null", null, 'Expected `auth` to be "bearer"'],
    ["a header name with a space", { header: "x key", template: "{token}" }, "`auth.header`"],
    ["a header name with a colon", { header: "x-key:", template: "{token}" }, "`auth.header`"],
    ["an empty header name", { header: "", template: "{token}" }, "`auth.header`"],
    ["a template without {token}", { header: "x-key", template: "Bearer" }, "`auth.template`"],
    ["a template with a LF", { header: "x-key", template: "{token}\nx-b: 1" }, "CR, LF or NUL"],
  ])("refuses %s as a style", (_, style, message) => {
    expect(() => authHeaders(style as AuthStyle, TOKEN)).toThrow(TypeError);
    expect(() => authHeaders(style as AuthStyle, TOKEN)).toThrow(message);
  });

  it("its headers are accepted by fetch's Headers as they are", () => {
    const headers = new Headers(
      authHeaders({ header: "X-Custom-Auth", template: "k={token}" }, TOKEN),
    );
    expect(headers.get("x-custom-auth")).toBe(`k=${TOKEN}`);
  });
});
