/**
 * Random interleavings of success, failure, expiry, refresh and time (fast-check): a credential in
 * backoff is never selected while an available one exists, and no request is ever lost.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CredentialsUnavailableError,
  FailoverExhaustedError,
  OAuthManagerError,
} from "../errors.js";
import type { OAuthCredentialSet } from "../types.js";
import { OAuthKeyManager } from "./oauth-key-manager.js";

type Command =
  | { kind: "request"; failOn: number[]; status: number }
  | { kind: "next" }
  | { kind: "fail"; cred: number; retryAfter: number | undefined }
  | { kind: "succeed"; cred: number }
  | { kind: "expire"; cred: number }
  | { kind: "advance"; ms: number };

const command = (n: number): fc.Arbitrary<Command> =>
  fc.oneof(
    fc.record({
      kind: fc.constant("request" as const),
      failOn: fc.array(fc.integer({ min: 0, max: n - 1 }), { maxLength: n }),
      status: fc.constantFrom(429, 500, 503, 401, 0),
    }),
    fc.constant({ kind: "next" as const }),
    fc.record({
      kind: fc.constant("fail" as const),
      cred: fc.integer({ min: 0, max: n - 1 }),
      retryAfter: fc.option(fc.integer({ min: 0, max: 120 }), { nil: undefined }),
    }),
    fc.record({ kind: fc.constant("succeed" as const), cred: fc.integer({ min: 0, max: n - 1 }) }),
    fc.record({ kind: fc.constant("expire" as const), cred: fc.integer({ min: 0, max: n - 1 }) }),
    fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 70_000 }) }),
  );

const scenario = fc
  .integer({ min: 1, max: 6 })
  .chain((n) =>
    fc.record({ n: fc.constant(n), commands: fc.array(command(n), { maxLength: 60 }) }),
  );

describe("pool invariants", () => {
  it("never selects a credential in backoff while an available one exists, and loses no request", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, fc.boolean(), async ({ n, commands }, concurrent) => {
        let t = 1_000_000;
        const now = () => t;
        const creds: OAuthCredentialSet[] = Array.from({ length: n }, (_, i) => ({
          id: `c${i}`,
          accessToken: `a${i}`,
          refreshToken: `r${i}`,
          expiresAt: new Date(t + 3_600_000),
        }));
        const m = new OAuthKeyManager(
          "P",
          creds,
          async (cred) => ({
            ...cred,
            accessToken: `${cred.accessToken}+`,
            expiresAt: new Date(now() + 3_600_000),
          }),
          { now, logger: { warn() {}, error() {} } },
        );
        const available = () =>
          creds.filter((c) => m.getCredentialHealthInfo(c.id)?.isAvailable).map((c) => c.id);

        let issued = 0;
        let settled = 0;
        const pending: Promise<unknown>[] = [];
        for (const cmd of commands) {
          switch (cmd.kind) {
            case "request": {
              const before = available();
              issued++;
              const run = m
                .executeWithFailover(async (cred) => {
                  // the credential served was available when the request chose it
                  if (!concurrent) expect(before).toContain(cred.id);
                  if (cmd.failOn.includes(Number(cred.id.slice(1)))) {
                    throw Object.assign(
                      new Error("fail"),
                      cmd.status ? { status: cmd.status } : {},
                    );
                  }
                  return { result: cred.id };
                })
                .then(
                  () => settled++,
                  (err: unknown) => {
                    expect(err).toBeInstanceOf(OAuthManagerError);
                    if (err instanceof CredentialsUnavailableError) expect(before).toEqual([]);
                    else expect(err).toBeInstanceOf(FailoverExhaustedError);
                    settled++;
                  },
                );
              if (concurrent) pending.push(run);
              else await run;
              break;
            }
            case "next": {
              const before = available();
              const got = await m.getNextCredential().then(
                (c) => c.id,
                () => undefined,
              );
              if (before.length > 0) expect(before).toContain(got);
              else expect(got).toBeUndefined();
              break;
            }
            case "fail":
              m.reportFailure(
                `c${cmd.cred}`,
                cmd.retryAfter === undefined
                  ? undefined
                  : { status: 429, headers: { "retry-after": String(cmd.retryAfter) } },
              );
              break;
            case "succeed":
              m.reportSuccess(`c${cmd.cred}`);
              break;
            case "expire":
              creds[cmd.cred]!.expiresAt = new Date(t);
              m.removeCredential(`c${cmd.cred}`);
              m.addCredential(creds[cmd.cred]!);
              break;
            case "advance":
              t += cmd.ms;
              break;
          }
        }
        await Promise.all(pending);
        expect(settled).toBe(issued);
        await m.close();
      }),
      { numRuns: 300 },
    );
  });
});
