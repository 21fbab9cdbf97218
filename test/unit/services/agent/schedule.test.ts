import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  afterRenewal,
  afterRootCheck,
  backoffMs,
  type DaemonState,
  type Hold,
  MAX_SLEEP_MS,
  nextStep,
  RENEW_GAP_MS,
  ROOT_CHECK_MS,
  renewalTime,
  scheduleEntry,
} from "../../../../services/agent/schedule.js";

const T = Date.parse("2026-03-01T00:00:00Z");
const MIN = 60_000;
const state = (o: Partial<DaemonState> = {}): DaemonState => ({
  holds: new Map(),
  rootCheckAt: T + ROOT_CHECK_MS,
  rootFailures: 0,
  ...o,
});

describe("renewal time", () => {
  test("two thirds of the lifetime, moved earlier by at most a twentieth", () => {
    const day = 86_400_000;
    assert.equal(renewalTime(T, T + 30 * day, 0), T + 20 * day);
    assert.equal(renewalTime(T, T + 30 * day, 1), T + 20 * day - 1.5 * day);
  });

  test("backoff doubles from a minute and stops at an hour", () => {
    assert.deepEqual([1, 2, 3, 4, 6, 7, 20].map(backoffMs), [
      MIN,
      2 * MIN,
      4 * MIN,
      8 * MIN,
      32 * MIN,
      60 * MIN,
      60 * MIN,
    ]);
  });
});

describe("the daemon's next step", () => {
  test("the root check comes first when it is due", () => {
    const entries = [{ name: "a", renewAt: T - MIN }];
    assert.deepEqual(nextStep(T, entries, state({ rootCheckAt: T })), { kind: "check-root" });
  });

  test("of the due renewals, the one due longest goes first; the first attempt is 1", () => {
    const entries = [
      { name: "late", renewAt: T - MIN },
      { name: "later", renewAt: T - 5 * MIN },
      { name: "future", renewAt: T + MIN },
    ];
    assert.deepEqual(nextStep(T, entries, state()), { kind: "renew", name: "later", attempt: 1 });
    const fresh = state({ rootCheckAt: T - 6 * MIN + ROOT_CHECK_MS });
    assert.deepEqual(nextStep(T - 6 * MIN, entries, fresh), { kind: "sleep", until: T - 5 * MIN });
  });

  test("nothing due: sleep until the next renewal, the root check or the cap, whichever is first", () => {
    assert.deepEqual(nextStep(T, [{ name: "a", renewAt: T + 5 * MIN }], state()), {
      kind: "sleep",
      until: T + 5 * MIN,
    });
    assert.deepEqual(nextStep(T, [{ name: "a", renewAt: T + 5 * MIN }], state({ rootCheckAt: T + MIN })), {
      kind: "sleep",
      until: T + MIN,
    });
    assert.deepEqual(nextStep(T, [{ name: "a", renewAt: T + ROOT_CHECK_MS / 2 }], state()), {
      kind: "sleep",
      until: T + MAX_SLEEP_MS,
    });
    assert.deepEqual(nextStep(T, [], state()), { kind: "sleep", until: T + MAX_SLEEP_MS });
  });

  test("a failed renewal is held for its backoff, then tried again with the next attempt number", () => {
    const entries = [{ name: "a", renewAt: T - MIN }];
    const hold = afterRenewal(undefined, false, T);
    assert.deepEqual(hold, { failures: 1, until: T + MIN });
    const holds = new Map([["a", hold]]);
    assert.deepEqual(nextStep(T + 1000, entries, state({ holds })), { kind: "sleep", until: T + MIN });
    assert.deepEqual(nextStep(T + MIN, entries, state({ holds })), { kind: "renew", name: "a", attempt: 2 });
    const third = afterRenewal(afterRenewal(hold, false, T + MIN), false, T + 3 * MIN);
    assert.deepEqual(third, { failures: 3, until: T + 3 * MIN + 4 * MIN });
  });

  test("a held certificate does not hold up another that is due", () => {
    const entries = [
      { name: "held", renewAt: T - 10 * MIN },
      { name: "free", renewAt: T - MIN },
    ];
    const holds = new Map<string, Hold>([["held", { failures: 2, until: T + 2 * MIN }]]);
    assert.deepEqual(nextStep(T, entries, state({ holds })), { kind: "renew", name: "free", attempt: 1 });
  });

  test("a success clears the failures; a record still due right after waits out a short gap", () => {
    const ok = afterRenewal({ failures: 4, until: T }, true, T);
    assert.deepEqual(ok, { failures: 0, until: T + RENEW_GAP_MS });
    const stillDue = [{ name: "tiny", renewAt: T - 1 }];
    const holds = new Map([["tiny", ok]]);
    assert.deepEqual(nextStep(T, stillDue, state({ holds })), { kind: "sleep", until: T + RENEW_GAP_MS });
  });

  test("a hold ending before the recorded renewal time is history (renewed by hand since)", () => {
    const holds = new Map<string, Hold>([["a", { failures: 5, until: T + MIN }]]);
    const renewedByHand = [{ name: "a", renewAt: T + 10 * MIN }];
    assert.deepEqual(nextStep(T, renewedByHand, state({ holds })), { kind: "sleep", until: T + 10 * MIN });
    assert.deepEqual(
      nextStep(T + 10 * MIN, renewedByHand, state({ holds, rootCheckAt: T + ROOT_CHECK_MS })),
      {
        kind: "renew",
        name: "a",
        attempt: 1,
      },
    );
  });

  test("the root is checked daily; failed checks back off like renewals", () => {
    assert.deepEqual(afterRootCheck(state({ rootFailures: 3 }), true, T), {
      rootCheckAt: T + ROOT_CHECK_MS,
      rootFailures: 0,
    });
    assert.deepEqual(afterRootCheck(state(), false, T), { rootCheckAt: T + MIN, rootFailures: 1 });
    assert.deepEqual(afterRootCheck(state({ rootFailures: 9 }), false, T), {
      rootCheckAt: T + 60 * MIN,
      rootFailures: 10,
    });
  });
});

describe("what the daemon reads of a record", () => {
  test("name and renewAt; anything else is not a record", () => {
    assert.deepEqual(scheduleEntry({ name: "reg", renewAt: "2026-03-01T00:00:00Z", serial: "ab" }), {
      name: "reg",
      renewAt: T,
    });
    for (const bad of [
      null,
      "reg",
      [],
      {},
      { name: "reg" },
      { name: "", renewAt: "2026-03-01T00:00:00Z" },
      { name: "reg", renewAt: "soon" },
      { name: "reg", renewAt: 1 },
      { name: 7, renewAt: "2026-03-01T00:00:00Z" },
    ]) {
      assert.equal(scheduleEntry(bad), null, JSON.stringify(bad));
    }
  });
});
