/**
 * Usage budgets: alerts once per window, counters that survive a restart through the store, and
 * (opt-in) a used-up credential out of selection until its window ends.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BudgetOptions } from "../src/budget/options.js";
import { CredentialsUnavailableError } from "../src/errors.js";
import { OAuthKeyManager } from "../src/manager/oauth-key-manager.js";
import { FileTokenStore } from "../src/stores/file-store.js";
import { MemoryTokenStore } from "../src/stores/memory-store.js";
import type { TokenStore } from "../src/stores/types.js";
import type { OAuthCredentialSet, Usage, WebhookEvent } from "../src/types.js";
import { alertsOnly } from "./support/webhook-receiver.js";

const HOUR = 3_600_000;
/** 10:00 UTC: the hour window runs to 11:00. */
const T0 = Date.UTC(2026, 0, 15, 10);
const quiet = { warn() {}, error() {} };

const creds = (...ids: string[]): OAuthCredentialSet[] =>
  ids.map((id) => ({ id, accessToken: `token-${id}`, refreshToken: `refresh-${id}` }));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "oauthmanager-budgets-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function setup(
  budgets: BudgetOptions,
  ids: string[] = ["a"],
  clock = { t: T0 },
  store?: TokenStore,
) {
  const manager = new OAuthKeyManager("llm", creds(...ids), undefined, {
    now: () => clock.t,
    logger: quiet,
    budgets,
    ...(store ? { store } : {}),
  });
  manager.setMonitoringConfig(alertsOnly());
  const alerts: WebhookEvent[] = [];
  manager.on("alert", (a) => alerts.push(a));
  const use = (usage: Usage) => manager.executeWithFailover(async () => ({ result: "ok", usage }));
  return {
    manager,
    alerts,
    reasons: () => alerts.map((a) => `${a.credentialId}:${a.details?.reason}:${a.details?.window}`),
    use,
    clock,
  };
}

const tokens = (n: number): Usage => ({ promptTokens: n / 2, completionTokens: n / 2 });

describe("usage budgets", () => {
  it("warns once at 80 %, alerts once at 100 %, and again in the next window", async () => {
    const t = setup({ credential: { hour: { tokens: 1_000 } } });
    await t.use(tokens(700));
    expect(t.alerts).toEqual([]);
    await t.use(tokens(100)); // 800: 80 %
    await t.use(tokens(100)); // 900: no second warning
    expect(t.reasons()).toEqual(["a:budget_warning:hour"]);
    await t.use(tokens(100)); // 1,000: used up (alerts only: it stays in selection)
    await t.use(tokens(100));
    expect(t.reasons()).toEqual(["a:budget_warning:hour", "a:budget_exhausted:hour"]);
    expect(t.alerts[1]?.details).toMatchObject({ tokens: 1_000, token_limit: 1_000, share: 1 });
    t.clock.t += HOUR;
    await t.use(tokens(800));
    expect(t.reasons().at(-1)).toBe("a:budget_warning:hour");
    expect(t.alerts).toHaveLength(3);
    await t.manager.close();
  });

  it("with enforce, a used-up credential leaves selection and returns at the next window", async () => {
    const t = setup({ credential: { hour: { tokens: 1_000 } }, enforce: true }, ["a", "b"]);
    const served: string[] = [];
    const run = async (n: number) => {
      const out = await t.use(tokens(n));
      served.push(out.credentialId);
    };
    await run(1_000); // a: used up
    for (let i = 0; i < 4; i++) await run(10);
    expect(served).toEqual(["a", "b", "b", "b", "b"]);
    const info = t.manager.getCredentialHealthInfo("a");
    expect(info?.isAvailable).toBe(false);
    expect(info?.budgetHeldUntil?.getTime()).toBe(T0 + HOUR);
    await run(990); // b used up too: nothing left until 11:00
    const failed = await t.use(tokens(1)).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(CredentialsUnavailableError);
    expect((failed as CredentialsUnavailableError).retryAfterMs).toBe(HOUR);
    t.clock.t = T0 + HOUR;
    served.length = 0;
    await run(10);
    await run(10);
    expect(new Set(served)).toEqual(new Set(["a", "b"]));
    expect(t.manager.getCredentialHealthInfo("a")?.isAvailable).toBe(true);
    await t.manager.close();
  });

  it("counters and sent alerts survive a restart through a file store", async () => {
    const path = join(dir, "tokens.json");
    const budgets: BudgetOptions = { credential: { day: { tokens: 10_000 } }, enforce: true };
    const clock = { t: T0 };
    const first = setup(budgets, ["a"], clock, new FileTokenStore({ path, logger: quiet }));
    await first.use(tokens(8_500));
    expect(first.reasons()).toEqual(["a:budget_warning:day"]);
    await first.use(tokens(500)); // 9,000, written at close
    await first.manager.close();

    clock.t += 2 * HOUR; // same UTC day
    const second = setup(budgets, ["a"], clock, new FileTokenStore({ path, logger: quiet }));
    await second.manager.ready();
    expect(second.manager.getCredentialHealthInfo("a")?.budget?.[0]).toMatchObject({
      window: "day",
      tokens: 9_000,
      tokenLimit: 10_000,
    });
    await second.use(tokens(500)); // 9,500: warned before the restart already
    expect(second.alerts).toEqual([]);
    await second.use(tokens(500)); // 10,000
    expect(second.reasons()).toEqual(["a:budget_exhausted:day"]);
    await second.manager.close();

    // Used up and enforced: a third start keeps it out until the next UTC day.
    const third = setup(budgets, ["a"], clock, new FileTokenStore({ path, logger: quiet }));
    await third.manager.ready();
    await expect(third.use(tokens(1))).rejects.toBeInstanceOf(CredentialsUnavailableError);
    expect(third.alerts).toEqual([]);
    clock.t = Date.UTC(2026, 0, 16);
    await expect(third.use(tokens(1))).resolves.toMatchObject({ credentialId: "a" });
    await third.manager.close();
  });

  it("a call still in flight when close() begins is counted and written before close resolves", async () => {
    const path = join(dir, "tokens.json");
    const budgets: BudgetOptions = { credential: { day: { tokens: 10_000 } } };
    const clock = { t: T0 };
    const first = setup(budgets, ["a"], clock, new FileTokenStore({ path, logger: quiet }));
    await first.manager.ready();
    let answer: (value: { result: string; usage: Usage }) => void = () => {};
    const inFlight = first.manager.executeWithFailover(
      () => new Promise<{ result: string; usage: Usage }>((resolve) => (answer = resolve)),
    );
    const closed = first.manager.close();
    answer({ result: "ok", usage: tokens(700) });
    await expect(inFlight).resolves.toMatchObject({ credentialId: "a" });
    await closed;
    expect(first.manager.getCredentialMetrics("a")?.requestCount).toBe(1);

    const second = setup(budgets, ["a"], clock, new FileTokenStore({ path, logger: quiet }));
    await second.manager.ready();
    expect(second.manager.getCredentialHealthInfo("a")?.budget?.[0]).toMatchObject({
      window: "day",
      tokens: 700,
    });
    await second.manager.close();
  });

  it("replicas sharing a store add up their counts", async () => {
    const shared = new MemoryTokenStore();
    const budgets: BudgetOptions = { credential: { hour: { tokens: 1_000 } } };
    const a = setup(budgets, ["a"], { t: T0 }, shared);
    const b = setup(budgets, ["a"], { t: T0 }, shared);
    await a.use(tokens(500));
    await b.use(tokens(400));
    await a.manager.close();
    await b.manager.close(); // its 400 are added to the 500 stored by the other replica
    const c = setup(budgets, ["a"], { t: T0 }, shared);
    await c.manager.ready();
    expect(c.manager.getCredentialHealthInfo("a")?.budget?.[0]?.tokens).toBe(900);
    await c.use(tokens(100));
    expect(c.reasons()).toEqual(["a:budget_exhausted:hour"]);
    await c.manager.close();
  });

  it("a provider cost budget, priced per model, counts every credential together", async () => {
    const t = setup(
      {
        provider: { month: { cost: 1 } },
        prices: { "big-model": { input: 10, output: 30 }, "*": { input: 1, output: 1 } },
        enforce: true,
      },
      ["a", "b"],
    );
    // 20,000 prompt tokens at 10 per million + 20,000 completion at 30: 0.8
    await t.use({ promptTokens: 20_000, completionTokens: 20_000, model: "big-model" });
    expect(t.reasons()).toEqual(["*:budget_warning:month"]);
    await t.use({ promptTokens: 100_000, completionTokens: 100_000, model: "unlisted" }); // +0.2
    expect(t.reasons()).toEqual(["*:budget_warning:month", "*:budget_exhausted:month"]);
    await expect(t.use(tokens(2))).rejects.toBeInstanceOf(CredentialsUnavailableError);
    const summary = t.manager.getHealthSummary();
    expect(summary.budget?.[0]).toMatchObject({ window: "month", costLimit: 1 });
    expect(summary.budget?.[0]?.cost).toBeCloseTo(1, 9);
    expect(summary.credentialsInBackoff).toBe(2);
    await t.manager.close();
  });

  it("exportJSON and the Prometheus text carry the budgets", async () => {
    const t = setup(
      { credential: { hour: { tokens: 1_000 } }, provider: { day: { tokens: 5_000 } } },
      ["a"],
    );
    await t.use(tokens(250));
    const json = JSON.parse(t.manager.exportJSON()) as {
      credentials: Record<string, { budget: unknown[] }>;
      budget: unknown[];
    };
    expect(json.credentials.a?.budget).toContainEqual({
      window: "hour",
      start: new Date(T0).toISOString(),
      end: new Date(T0 + HOUR).toISOString(),
      tokens: 250,
      cost: 0,
      share: 0.25,
      token_limit: 1_000,
    });
    expect(json.budget).toContainEqual(expect.objectContaining({ window: "day", tokens: 250 }));
    const text = await t.manager.exportPrometheusText();
    expect(text).toContain(
      'oauthmanager_budget_tokens{provider="llm",credential="a",window="hour"} 250',
    );
    expect(text).toContain(
      'oauthmanager_budget_share{provider="llm",credential="a",window="hour"} 0.25',
    );
    expect(text).toContain('oauthmanager_provider_budget_tokens{provider="llm",window="day"} 250');
    await t.manager.close();
  });

  it("is off by default and refuses unknown settings", async () => {
    const plain = new OAuthKeyManager("llm", creds("a"), undefined, { logger: quiet });
    await plain.executeWithFailover(async () => ({ result: 1, usage: tokens(10) }));
    expect(plain.getCredentialHealthInfo("a")?.budget).toBeUndefined();
    expect(JSON.parse(plain.exportJSON())).not.toHaveProperty("budget");
    await plain.close();
    expect(() => setup({ credential: { hours: { tokens: 1 } } as never })).toThrow(
      /budgets\.credential\.hours.*did you mean `budgets\.credential\.hour`/,
    );
    expect(() => setup({ alertAt: 1.5 })).toThrow(/alertAt/);
  });
});
