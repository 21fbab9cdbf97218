import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { verifyChain } from "../../../../../services/ca/core/audit.js";
import { openStore } from "../../../../../services/ca/store/index.js";
import {
  certificateRecord as cert,
  issuedEntry as issued,
  tokenRecord as token,
} from "../../../../helpers/store-records.js";

/*
 * Group commit on SQLite (store/index.ts): issuances recorded in the same turn of the event loop
 * share one transaction without a savepoint each. A refusal leaves nothing behind; a failure
 * after the writes began has the batch written again one issuance at a time.
 */
const dir = mkdtempSync(join(tmpdir(), "certyard-issuance-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function storeAt(name: string) {
  const path = join(dir, `${name}.db`);
  const store = openStore(path, { create: true });
  const count = (sql: string, ...params: unknown[]): number => {
    const db = new Database(path, { readonly: true });
    try {
      return Number(
        db
          .prepare(sql)
          .pluck()
          .get(...params),
      );
    } finally {
      db.close();
    }
  };
  const subjects = (): string[] => {
    const db = new Database(path, { readonly: true });
    try {
      return db.prepare("select subject from audit_events order by id").pluck().all() as string[];
    } finally {
      db.close();
    }
  };
  return { store, count, subjects };
}

test("a token that runs out of uses mid-batch refuses only the issuances past its limit, in arrival order", async () => {
  const { store, count, subjects } = storeAt("uses");
  try {
    const limited = token({ usesLeft: 3 });
    const open = token();
    await store.tokens.create(limited);
    await store.tokens.create(open);
    const now = Date.now();
    const plan = [limited, open, null, limited, open, limited, null, limited, limited];
    const recs = plan.map((t, i) => cert(`b${i}.host.lan`, { tokenId: t?.id ?? null }));
    const outcomes = await Promise.allSettled(
      recs.map((rec, i) => store.recordIssued(rec, plan[i]?.id ?? null, now, issued(rec))),
    );
    const refused = outcomes.flatMap((o, i) => (o.status === "rejected" ? [i] : []));
    assert.deepEqual(refused, [7, 8]);
    for (const i of refused) {
      assert.match(String((outcomes[i] as PromiseRejectedResult).reason.reason), /no uses left/);
    }
    const kept = recs.filter((_, i) => !refused.includes(i)).map((r) => r.serial);
    assert.equal((await store.tokens.byId(limited.id))?.usesLeft, 0);
    assert.equal(count("select window_count from tokens where id = ?", limited.id), 3);
    assert.equal(count("select window_count from tokens where id = ?", open.id), 2);
    assert.equal(count("select count(*) from certificates"), kept.length);
    assert.equal(
      count("select count(*) from certificate_names where name in ('b7.host.lan', 'b8.host.lan')"),
      0,
    );
    // one event for each recorded certificate, in arrival order, and the chain holds
    assert.deepEqual(subjects(), kept);
    const verdict = await verifyChain(await store.audit.chain());
    assert.equal(verdict.ok, true, JSON.stringify(verdict));
  } finally {
    await store.close();
  }
});

test("a failure after an issuance's writes began (a serial taken) fails that one alone; the others are recorded, each use counted once", async () => {
  const { store, count, subjects } = storeAt("taken");
  try {
    const taken = cert("taken.host.lan");
    await store.recordIssued(taken, null, Date.now(), issued(taken));
    const t = token({ usesLeft: 10 });
    await store.tokens.create(t);
    const now = Date.now();
    const recs = Array.from({ length: 5 }, (_, i) =>
      i === 2
        ? { ...taken, tokenId: t.id, dnsNames: ["clash.host.lan"], commonName: "clash.host.lan" }
        : cert(`d${i}.host.lan`, { tokenId: t.id }),
    );
    const outcomes = await Promise.allSettled(
      recs.map((rec) => store.recordIssued(rec, t.id, now, issued(rec))),
    );
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ["fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"],
    );
    assert.match(String((outcomes[2] as PromiseRejectedResult).reason), /UNIQUE constraint failed/);
    assert.equal((await store.tokens.byId(t.id))?.usesLeft, 6);
    assert.equal(count("select window_count from tokens where id = ?", t.id), 4);
    assert.equal(count("select count(*) from certificates where token_id = ?", t.id), 4);
    assert.equal(count("select count(*) from certificate_names where name = 'clash.host.lan'"), 0);
    assert.equal(
      count("select count(*) from certificates where serial = ? and token_id is null", taken.serial),
      1,
    );
    const recorded = recs.filter((_, i) => i !== 2).map((r) => r.serial);
    assert.deepEqual(subjects(), [taken.serial, ...recorded]);
    const verdict = await verifyChain(await store.audit.chain());
    assert.equal(verdict.ok, true, JSON.stringify(verdict));
  } finally {
    await store.close();
  }
});

test("a renewal of a certificate renewed already in the same batch is refused; the batch's others are recorded", async () => {
  const { store, count } = storeAt("renewed");
  try {
    const t = token();
    await store.tokens.create(t);
    const old = cert("r.host.lan", { tokenId: t.id });
    await store.recordIssued(old, t.id, Date.now(), issued(old));
    const first = cert("r.host.lan", { tokenId: t.id, renewedFrom: old.serial });
    const second = cert("r.host.lan", { tokenId: t.id, renewedFrom: old.serial });
    const other = cert("o.host.lan", { tokenId: t.id });
    const now = Date.now();
    const outcomes = await Promise.allSettled([
      store.recordIssued(first, null, now, issued(first)),
      store.recordIssued(second, null, now, issued(second)),
      store.recordIssued(other, t.id, now, issued(other)),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ["fulfilled", "rejected", "fulfilled"],
    );
    assert.match(String((outcomes[1] as PromiseRejectedResult).reason), /renewed already/);
    assert.equal(count("select count(*) from certificates where serial = ?", second.serial), 0);
    assert.equal(count("select count(*) from certificates"), 3);
  } finally {
    await store.close();
  }
});
