import assert from "node:assert/strict";
import { type FailureAudit, failureAudit } from "../../services/ca/audit/failures.js";
import type { StorePorts } from "../../services/ca/store/ports.js";

const WINDOW = 60_000;
const T0 = Date.UTC(2026, 11, 3, 10, 0, 0);

interface Failed {
  type: string;
  actor: { kind: string; id: string };
  details: Record<string, unknown>;
}

async function failedEvents(store: StorePorts): Promise<Failed[]> {
  return (await store.audit.list({ types: ["auth.failed"], limit: 1000 })) as Failed[];
}

/**
 * What every process on one database must agree on for failed authentications (audit/failures.ts
 * over store/failure-tallies.ts), given stores that stand for processes on one database: run by
 * test/unit/services/ca/audit/failures.test.ts on SQLite and test/e2e/pg-audit.test.ts on
 * PostgreSQL. Times are given, not read: each sweep is what a process's timer would do then.
 */
export const failureTallyCases = {
  /**
   * A flood from one address reaching three processes for two windows: two events, not one per
   * process and window, that count every attempt; a stop before a window is over writes nothing
   * of it, and a later sweep by any process writes it.
   */
  async floodAcrossProcesses(stores: StorePorts[]): Promise<void> {
    const errors: unknown[] = [];
    const procs: FailureAudit[] = stores.map((s) =>
      failureAudit(s.failureTallies, (e) => errors.push(e), WINDOW),
    );
    let attempts = 0;
    let limited = 0;
    // every 100 ms for 130 s, to each process in turn; sweeps every quarter window
    for (let t = 0; t < 130_000; t += 100) {
      const p = procs[(t / 100) % procs.length] as FailureAudit;
      if (t % 1000 === 0) {
        p.limited("192.0.2.7", T0 + t);
        limited++;
      } else {
        p.failed("192.0.2.7", T0 + t, `tok${t % 3000}`, "unknown token");
        attempts++;
      }
      if (t % (WINDOW / 4) === 0) await Promise.all(procs.map((q) => q.sweep(T0 + t)));
    }
    // each process stops (what serve's shutdown does): what is not a window old stays counted
    for (const p of procs) await p.sweep(T0 + 130_000);
    const before = await failedEvents(stores[0] as StorePorts);
    assert.equal(before.length, 2, JSON.stringify(before));
    // a process that starts (or sweeps) later writes the rest
    const later = failureAudit((stores[1] as StorePorts).failureTallies, (e) => errors.push(e), WINDOW);
    await later.sweep(T0 + 250_000);
    const events = await failedEvents(stores[2] as StorePorts);
    assert.deepEqual(errors, []);
    assert.equal(events.length, 3, JSON.stringify(events));
    for (const e of events) {
      assert.deepEqual(e.actor, { kind: "address", id: "192.0.2.7" });
      assert.ok((e.details.tokens as string[]).length <= 10);
      assert.deepEqual(e.details.reasons, ["unknown token"]);
    }
    const sum = (k: string) => events.reduce((n, e) => n + Number(e.details[k]), 0);
    assert.equal(sum("failures"), attempts);
    assert.equal(sum("limited"), limited);
    // nothing left over
    assert.equal(await (stores[0] as StorePorts).failureTallies.writeDue(Number.MAX_SAFE_INTEGER), 0);
  },

  /** Many processes adding to one new address's tally at once: one row, every count in it. */
  async concurrentAdds(stores: StorePorts[]): Promise<void> {
    const add = (s: StorePorts, i: number) =>
      s.failureTallies.add({
        address: "198.51.100.1",
        firstAt: T0 + i,
        lastAt: T0 + i,
        failures: 1,
        limited: 1,
        tokens: [`t${i}`],
        reasons: ["bad secret"],
      });
    await Promise.all(Array.from({ length: 30 }, (_, i) => add(stores[i % stores.length] as StorePorts, i)));
    assert.equal(await (stores[1] as StorePorts).failureTallies.writeDue(T0), 1);
    const [e] = (await failedEvents(stores[0] as StorePorts)).filter((x) => x.actor.id === "198.51.100.1");
    if (!e) throw new Error("no auth.failed event for 198.51.100.1");
    assert.equal(e.details.failures, 30);
    assert.equal(e.details.limited, 30);
    assert.equal(e.details.from, new Date(T0).toISOString());
    assert.equal(e.details.to, new Date(T0 + 29).toISOString());
    assert.equal((e.details.tokens as string[]).length, 10);
  },
};
