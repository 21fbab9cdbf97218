import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { failureAudit } from "../../../../../services/ca/audit/failures.js";
import { verifyChain } from "../../../../../services/ca/core/audit.js";
import { openStore } from "../../../../../services/ca/store/index.js";
import { failureTallyCases } from "../../../../helpers/failure-tally-cases.js";

/* Failed authentications in the audit trail on real SQLite: three stores on one file stand for three processes. */
const dir = mkdtempSync(join(tmpdir(), "certyard-failure-tallies-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function stores(name: string, o: { audit?: boolean } = {}) {
  const path = join(dir, `${name}.db`);
  const first = openStore(path, { create: true, ...o });
  const all = [first, openStore(path, o), openStore(path, o)];
  return { all, close: () => Promise.all(all.map((s) => s.close())) };
}

test("a flood through three processes: one event per window, every attempt counted, the chain intact", async () => {
  const { all, close } = stores("flood");
  try {
    await failureTallyCases.floodAcrossProcesses(all);
    const verdict = await verifyChain(await (all[0] as (typeof all)[0]).audit.chain());
    assert.equal(verdict.ok, true, JSON.stringify(verdict));
  } finally {
    await close();
  }
});

test("adds from three processes at once to a new address: one row with every count", async () => {
  const { all, close } = stores("concurrent");
  try {
    await failureTallyCases.concurrentAdds(all);
  } finally {
    await close();
  }
});

test("a store without audit events counts nothing and writes nothing", async () => {
  const { all, close } = stores("off", { audit: false });
  try {
    const [s] = all;
    if (!s) throw new Error("no store");
    const f = failureAudit(s.failureTallies, (e) => assert.fail(String(e)), 1000);
    f.failed("192.0.2.1", 0, "x", "unknown token");
    await f.sweep(5000);
    assert.equal(await s.failureTallies.writeDue(Number.MAX_SAFE_INTEGER), 0);
    assert.deepEqual(await s.audit.list({ limit: 10 }), []);
  } finally {
    await close();
  }
});
