import { describe, expect, it } from "vitest";
import { closest, levenshtein } from "./suggest.js";

describe("suggestions", () => {
  it.each([
    ["", "", 0],
    ["abc", "", 3],
    ["kitten", "sitting", 3],
    ["client_secrt", "client_secret", 1],
    ["flaw", "lawn", 2],
  ])("levenshtein(%j, %j) = %d", (a, b, d) => {
    expect(levenshtein(a, b)).toBe(d);
    expect(levenshtein(b, a)).toBe(d);
  });

  it("suggests the closest candidate only when it is plausible", () => {
    const keys = ["client_id", "client_secret", "access_token", "refresh_token"];
    expect(closest("client_secrt", keys)).toBe("client_secret");
    expect(closest("Refresh_Token", keys)).toBe("refresh_token");
    expect(closest("acess_token", keys)).toBe("access_token");
    expect(closest("zzzzzz", keys)).toBeUndefined();
    expect(closest("x", [])).toBeUndefined();
  });
});
