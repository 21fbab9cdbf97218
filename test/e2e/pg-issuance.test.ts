import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { verifyChain } from "../../services/ca/core/audit.js";
import type { CertificateRecord } from "../../services/ca/core/types.js";
import { parseDbUrl } from "../../services/ca/store/db-url.js";
import type { PgLocation } from "../../services/ca/store/pg/db.js";
import { openPgStore, type PgStore } from "../../services/ca/store/pg/index.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";
import {
  certificateRecord as cert,
  issuedEntry as issued,
  tokenRecord as token,
} from "../helpers/store-records.js";

/**
 * Group commit on PostgreSQL (store/pg/issuance.ts): issuances recorded in the same turn of the
 * event loop share one transaction, and one that fails inside it leaves the others exact.
 * Rows written by one transaction carry its id (xmin), which shows what was shared.
 */
describe("PostgreSQL issuances recorded together", () => {
  let server: TestPostgres;
  let store: PgStore;
  let other: PgStore;
  before(async () => {
    server = await startPostgres();
    const loc = parseDbUrl(server.socketUrl, "/nonexistent") as PgLocation;
    store = await openPgStore(loc, { create: true });
    other = await openPgStore(loc);
  });
  after(async () => {
    await store?.close();
    await other?.close();
    await server?.stop();
  });

  const transactionsOf = (serials: string[]) =>
    server.sql(
      `select count(distinct xmin::text) from certificates where serial in ('${serials.join("','")}')`,
    );
  const eventSubjects = async () =>
    (await server.sql("select subject from audit_events order by id")).split("\n").filter(Boolean);

  test("a token that runs out of uses mid-batch refuses only the issuances past its limit, in arrival order", async () => {
    const limited = token({ usesLeft: 3 });
    const open = token();
    await store.tokens.create(limited);
    await store.tokens.create(open);
    const now = Date.now();
    // limited, open, none, limited, open, limited, none, limited, limited
    const plan = [limited, open, null, limited, open, limited, null, limited, limited];
    const recs = plan.map((t, i) => cert(`b${i}.host.lan`, { tokenId: t?.id ?? null }));
    const outcomes = await Promise.allSettled(
      recs.map((rec, i) => store.recordIssued(rec, plan[i]?.id ?? null, now, issued(rec))),
    );
    const refused = outcomes.flatMap((o, i) => (o.status === "rejected" ? [i] : []));
    assert.deepEqual(refused, [7, 8]);
    for (const i of refused) {
      const o = outcomes[i] as PromiseRejectedResult;
      assert.match(String(o.reason.reason), /no uses left/);
    }
    const kept = recs.filter((_, i) => !refused.includes(i)).map((r) => r.serial);
    assert.equal(await transactionsOf(kept), "1\n", "the seven recorded in one transaction");
    assert.equal((await store.tokens.byId(limited.id))?.usesLeft, 0);
    assert.equal(
      await server.sql(
        `select window_count from tokens where id in ('${limited.id}', '${open.id}') order by id = '${open.id}'`,
      ),
      "3\n2\n",
    );
    const refusedSerials = refused.map((i) => (recs[i] as CertificateRecord).serial);
    assert.equal(
      await server.sql(`select count(*) from certificates where serial in ('${refusedSerials.join("','")}')`),
      "0\n",
    );
    assert.equal(
      await server.sql("select count(*) from certificate_names where name in ('b7.host.lan', 'b8.host.lan')"),
      "0\n",
    );
    // one event for each recorded certificate, in arrival order, and the chain holds
    assert.deepEqual((await eventSubjects()).slice(-kept.length), kept);
    assert.deepEqual(await verifyChain(await store.audit.chain()), {
      ok: true,
      count: kept.length,
      head: (await server.sql("select hash from audit_events order by id desc limit 1")).trim(),
    });
  });

  test("a failure at the database (a serial taken) fails that issuance alone; the others are recorded, each use counted once", async () => {
    const taken = cert("taken.host.lan");
    await store.recordIssued(taken, null, Date.now());
    const t = token({ usesLeft: 10 });
    await store.tokens.create(t);
    const before = await eventSubjects();
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
    assert.match(String((outcomes[2] as PromiseRejectedResult).reason), /duplicate key/);
    assert.equal((await store.tokens.byId(t.id))?.usesLeft, 6);
    assert.equal(await server.sql(`select count(*) from certificates where token_id = '${t.id}'`), "4\n");
    assert.equal(
      await server.sql("select count(*) from certificate_names where name = 'clash.host.lan'"),
      "0\n",
    );
    assert.equal(
      await server.sql(`select token_id is null from certificates where serial = '${taken.serial}'`),
      "t\n",
    );
    const recorded = recs.filter((_, i) => i !== 2).map((r) => r.serial);
    assert.deepEqual((await eventSubjects()).slice(before.length), recorded);
    const verdict = await verifyChain(await store.audit.chain());
    assert.equal(verdict.ok, true, JSON.stringify(verdict));
  });

  test("a revoked token refuses its issuances in a batch and the rest are recorded together", async () => {
    const t = token();
    await store.tokens.create(t);
    await store.tokens.revoke(t.name, Date.now());
    const now = Date.now();
    const recs = [cert("r0.host.lan", { tokenId: t.id }), cert("r1.host.lan"), cert("r2.host.lan")];
    const outcomes = await Promise.allSettled(
      recs.map((rec) => store.recordIssued(rec, rec.tokenId, now, issued(rec))),
    );
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ["rejected", "fulfilled", "fulfilled"],
    );
    assert.match(String((outcomes[0] as PromiseRejectedResult).reason.reason), /revoked/);
    assert.equal(await transactionsOf([recs[1], recs[2]].map((r) => (r as CertificateRecord).serial)), "1\n");
  });

  test("a token revoked while two replicas' batches issue under it: the revocation and every batch go through, nothing counted twice", async () => {
    const t = token({ usesLeft: 100 });
    await store.tokens.create(t);
    const now = Date.now();
    const recs = Array.from({ length: 40 }, (_, i) => cert(`v${i}.host.lan`, { tokenId: t.id }));
    const issuing = recs.map((rec, i) => (i % 2 ? store : other).recordIssued(rec, t.id, now, issued(rec)));
    // the revocation is audited: it takes the audit lock and the token's row, as a batch does
    const revoked = store.tokens.revoke(t.name, now, {
      at: now,
      type: "token.revoked",
      actor: { kind: "admin", id: "admin" },
      subject: t.name,
      details: {},
    });
    const outcomes = await Promise.allSettled(issuing);
    assert.equal(await revoked, true);
    const ok = outcomes.filter((o) => o.status === "fulfilled").length;
    for (const o of outcomes) {
      if (o.status === "rejected") assert.match(String(o.reason.reason), /revoked/);
    }
    assert.equal((await store.tokens.byId(t.id))?.usesLeft, 100 - ok);
    assert.equal(await server.sql(`select count(*) from certificates where token_id = '${t.id}'`), `${ok}\n`);
    const verdict = await verifyChain(await store.audit.chain());
    assert.equal(verdict.ok, true, JSON.stringify(verdict));
  });
});
