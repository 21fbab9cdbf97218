import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { namesOf } from "../../services/ca/core/inventory.js";
import type { CertificateRecord } from "../../services/ca/core/types.js";
import { certificateViewsText } from "../../services/ca/core/views.js";
import { parseDbUrl } from "../../services/ca/store/db-url.js";
import type { PgLocation } from "../../services/ca/store/pg/db.js";
import { openPgStore, type PgStore } from "../../services/ca/store/pg/index.js";
import { storageFault } from "../../shared/storage-fault.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";
import { certificateRecord, tokenRecord as token } from "../helpers/store-records.js";

const DAY = 86_400_000;

/** A certificate of host.lan and www.host.lan, `over` on top. */
const cert = (over: Partial<CertificateRecord> = {}): CertificateRecord =>
  certificateRecord("host.lan", { dnsNames: ["host.lan", "www.host.lan"], ...over });

/**
 * The PostgreSQL store against a real PostgreSQL 15, two stores (two pools, as two replicas
 * have) on one database: what must be atomic across replicas is, and what one writes the other
 * reads at once.
 */
describe("the PostgreSQL store, two replicas on one database", () => {
  let server: TestPostgres;
  let a: PgStore;
  let b: PgStore;
  before(async () => {
    server = await startPostgres();
    const loc = parseDbUrl(server.socketUrl, "/nonexistent") as PgLocation;
    a = await openPgStore(loc, { create: true });
    b = await openPgStore(loc);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await server?.stop();
  });

  test("a token's uses are spent exactly once each, issuing through both at once", async () => {
    const t = token({ usesLeft: 15 });
    await a.tokens.create(t);
    const now = Date.now();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).recordIssued(cert({ tokenId: t.id }), t.id, now)),
    );
    const ok = outcomes.filter((o) => o.status === "fulfilled").length;
    assert.equal(ok, 15);
    for (const o of outcomes) {
      if (o.status === "rejected") assert.match(String(o.reason.reason), /no uses left/);
    }
    assert.equal((await b.tokens.byId(t.id))?.usesLeft, 0);
    assert.equal(await server.sql(`select count(*) from certificates where token_id = '${t.id}'`), "15\n");
  });

  test("the rate window is counted across both", async () => {
    const t = token({ rateLimit: 5, rateWindowMs: 3_600_000 });
    await b.tokens.create(t);
    const now = Date.now();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).recordIssued(cert(), t.id, now)),
    );
    assert.equal(outcomes.filter((o) => o.status === "fulfilled").length, 5);
  });

  test("a rate window (ACME new accounts per address) lets `max` through across both, at once; per subject; anew after the window", async () => {
    const now = Date.now();
    const take = (store: PgStore, subject: string, at = now) =>
      store.acme.rateWindows.take({ limit: "acme-new-account", subject, now: at, max: 5, windowMs: 60_000 });
    const waits = await Promise.all(Array.from({ length: 16 }, (_, i) => take(i % 2 ? a : b, "192.0.2.1")));
    assert.equal(waits.filter((w) => w === 0).length, 5, JSON.stringify(waits));
    for (const w of waits) assert.ok(w === 0 || (w >= 59 && w <= 60), String(w));
    assert.equal(await take(a, "192.0.2.2"), 0);
    assert.equal(await take(b, "192.0.2.1", now + 60_000), 0);
    // the windows over by then are gone (192.0.2.2's, at now + 60 s), the others stay
    assert.equal(
      await server.sql("select key from rate_windows order by key"),
      "acme-new-account:192.0.2.1\n",
    );
    await take(a, "192.0.2.3", now + 120_000);
    assert.equal(
      await server.sql("select key from rate_windows order by key"),
      "acme-new-account:192.0.2.3\n",
    );
  });

  test("a token revoked through one is refused by the other's next issuance; names are unique", async () => {
    const t = token();
    await a.tokens.create(t);
    await assert.rejects(b.tokens.create(token({ name: t.name })), /already exists/);
    assert.equal(await a.tokens.revoke(t.name, Date.now()), true);
    assert.notEqual((await b.tokens.state(t.id))?.revokedAt, null);
    await assert.rejects(b.recordIssued(cert(), t.id, Date.now()), (e: { reason?: string }) =>
      /revoked/.test(e.reason ?? ""),
    );
    assert.equal(await b.tokens.idOf(t.name), t.id);
  });

  test("failed authentications counted through one are read by the other (a prepared statement on each pool)", async () => {
    const now = Date.now();
    assert.equal(await b.authFailures.window("192.0.2.50"), null);
    for (let i = 0; i < 3; i++) await a.authFailures.hit("192.0.2.50", now + i, 60_000);
    assert.deepEqual(await b.authFailures.window("192.0.2.50"), { windowStart: now, count: 3 });
    await b.authFailures.hit("192.0.2.50", now + 60_000, 60_000);
    assert.deepEqual(await a.authFailures.window("192.0.2.50"), { windowStart: now + 60_000, count: 1 });
    // asked together, read together: each gets its own address's window
    await b.authFailures.hit("192.0.2.51", now, 60_000);
    const asked = ["192.0.2.51", "192.0.2.50", "192.0.2.52", "192.0.2.51"];
    assert.deepEqual(await Promise.all(asked.map((address) => a.authFailures.window(address))), [
      { windowStart: now, count: 1 },
      { windowStart: now + 60_000, count: 1 },
      null,
      { windowStart: now, count: 1 },
    ]);
  });

  test("a duplicate serial is refused by the database, and nothing of it is written", async () => {
    const first = cert();
    await a.recordIssued(first, null, Date.now());
    const t = token({ usesLeft: 3 });
    await a.tokens.create(t);
    await assert.rejects(
      b.recordIssued({ ...first, dnsNames: ["other.lan"] }, t.id, Date.now()),
      /duplicate key/,
    );
    assert.equal((await a.tokens.byId(t.id))?.usesLeft, 3, "the use went back with the transaction");
    assert.equal(await server.sql("select count(*) from certificate_names where name = 'other.lan'"), "0\n");
  });

  test("two renewals of one certificate at once: one is recorded, the other refused", async () => {
    const old = cert();
    await a.recordIssued(old, null, Date.now());
    const outcomes = await Promise.allSettled([
      a.recordIssued(cert({ renewedFrom: old.serial }), null, Date.now()),
      b.recordIssued(cert({ renewedFrom: old.serial }), null, Date.now()),
    ]);
    assert.deepEqual(outcomes.map((o) => o.status).sort(), ["fulfilled", "rejected"]);
    const refused = outcomes.find((o) => o.status === "rejected");
    assert.match(String(refused?.status === "rejected" && refused.reason), /renewed already/);
    assert.notEqual(await b.certificates.successorOf(old.serial), null);
  });

  test("revocation: exactly one of two at once says revoked; the CRL's queries see it", async () => {
    const c = cert();
    await a.recordIssued(c, null, Date.now());
    const at = Date.now();
    const results = await Promise.all([
      a.certificates.revoke(c.serial, 1, at),
      b.certificates.revoke(c.serial, 1, at),
    ]);
    assert.deepEqual(results.sort(), ["already", "revoked"]);
    assert.equal(await a.certificates.revoke("00", 1, at), "missing");
    const state = await b.certificates.revocationState();
    assert.ok(state.count >= 1);
    assert.equal(state.lastRevokedAt, at);
    assert.ok(
      (await b.certificates.revokedUnexpired(Date.now())).some(
        (r) => r.serial === c.serial && r.reason === 1,
      ),
    );
  });

  test("CRLs: one replica stores a number, the other is told it was first; older ones go", async () => {
    const rec = (n: number) => ({
      number: n,
      der: Buffer.from([n]),
      thisUpdate: Date.now(),
      nextUpdate: Date.now() + DAY,
      revokedCount: 0,
      lastRevokedAt: 0,
    });
    assert.equal(await a.crls.insert(rec(1)), true);
    const both = await Promise.all([a.crls.insert(rec(2)), b.crls.insert(rec(2))]);
    assert.deepEqual(both.sort(), [false, true]);
    assert.equal((await b.crls.latest())?.number, 2);
    assert.deepEqual((await b.crls.latest())?.der, Buffer.from([2]));
    assert.equal(await server.sql("select count(*) from crls"), "1\n");
  });

  test("inventory pages in (notAfter, serial) order, by name, by state, with a cursor", async () => {
    const t = token();
    await a.tokens.create(t);
    const base = Date.now() + 100 * DAY;
    const made = Array.from({ length: 7 }, (_, i) =>
      cert({ tokenId: t.id, notAfter: base + (i % 3) * DAY, dnsNames: [`n${i}.inv.lan`, "shared.inv.lan"] }),
    );
    for (const c of made) await b.recordIssued(c, null, Date.now());
    const order = [...made].sort((x, y) => x.notAfter - y.notAfter || (x.serial < y.serial ? -1 : 1));
    const q = { now: Date.now(), states: ["valid", "superseded", "expired"] as const, tokenId: t.id };
    const first = await a.certificates.page({ ...q, limit: 4 });
    assert.equal(first.rows.length, 4);
    assert.ok(first.next);
    const second = await a.certificates.page({ ...q, limit: 4, after: first.next });
    assert.equal(second.next, null);
    assert.deepEqual(
      [...first.rows, ...second.rows].map((r) => r.serial),
      order.map((c) => c.serial),
    );
    assert.equal(first.rows[0]?.state, "valid");
    const byName = await a.certificates.page({ ...q, name: "shared.inv.lan", limit: 100 });
    assert.deepEqual(
      byName.rows.map((r) => r.serial),
      order.map((c) => c.serial),
    );
    const one = await a.certificates.page({ ...q, name: "n3.inv.lan", limit: 100 });
    assert.deepEqual(
      one.rows.map((r) => r.serial),
      [made[3]?.serial],
    );
    assert.deepEqual(namesOf(made[3] as CertificateRecord).sort(), [
      "10.0.0.1",
      "n3.inv.lan",
      "shared.inv.lan",
    ]);
    const json = { text: certificateViewsText((await a.certificates.page({ ...q, limit: 100 })).rows) };
    assert.deepEqual(
      JSON.parse(`[\n${json.text}\n]`).map((r: { serial: string }) => r.serial),
      order.map((c) => c.serial),
    );
    const revoked = await a.certificates.page({ now: q.now, states: ["revoked"], limit: 100 });
    assert.ok(revoked.rows.every((r) => r.state === "revoked") && revoked.rows.length >= 1);
    assert.deepEqual(await a.certificates.bySerial(made[0]?.serial ?? ""), made[0]);
    // the metrics' counts agree with the pages of each state
    const counts = await b.certificates.stateCounts(q.now, [200 * DAY, 1]);
    for (const state of ["valid", "superseded", "expired", "revoked"] as const) {
      const all = await a.certificates.page({ now: q.now, states: [state], limit: 1000 });
      assert.equal(counts.states[state], all.rows.length, state);
    }
    const valid = await a.certificates.page({ now: q.now, states: ["valid"], limit: 1000 });
    assert.deepEqual(counts.expiring, [valid.rows.filter((r) => r.notAfter <= q.now + 200 * DAY).length, 0]);
    assert.ok(counts.states.superseded >= 1 && counts.states.revoked >= 1);
  });

  test("ACME: a nonce is used once across both, an order claimed once, an EAB's last place taken once", async () => {
    const tag = randomBytes(16).toString("base64url");
    const used = await Promise.all([
      a.acme.nonces.use(tag, Date.now() + 60_000),
      b.acme.nonces.use(tag, Date.now() + 60_000),
    ]);
    assert.deepEqual(used.sort(), [false, true]);
    assert.equal(await a.acme.sweepUsedNonces(Date.now() + 120_000), 1);

    const eab = {
      kid: randomBytes(8).toString("hex"),
      name: "team",
      hmacKey: randomBytes(32),
      policy: { dns: [], ips: [], maxValidityMs: DAY },
      maxAccounts: 1,
      createdAt: Date.now(),
      revokedAt: null,
    };
    await a.acme.eabs.create(eab);
    assert.deepEqual((await b.acme.eab(eab.kid))?.hmacKey, eab.hmacKey);
    const account = (n: number) => ({
      id: `acct-${n}`,
      thumbprint: `tp-${n}`,
      jwk: { kty: "EC", n },
      status: "valid" as const,
      contact: [],
      eabKid: eab.kid,
      createdAt: Date.now(),
    });
    const bound = await Promise.all([
      a.acme.accounts.createBound(account(1), 1),
      b.acme.accounts.createBound(account(2), 1),
    ]);
    assert.deepEqual(bound.sort(), [false, true]);
    const [acct] = (
      await Promise.all([a.acme.accounts.byId("acct-1"), a.acme.accounts.byId("acct-2")])
    ).filter((x) => x !== null);
    assert.ok(acct);
    assert.deepEqual(acct.jwk, account(Number(acct.id.slice(5))).jwk);
    const now = Date.now();
    const slots = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        (i % 2 ? a : b).acme.accounts.takeRateSlot(acct.id, now, 4, 60_000),
      ),
    );
    assert.equal(slots.filter((s) => s === 0).length, 4);
    assert.ok(slots.every((s) => s === 0 || (s > 0 && s <= 60)));

    const authz = {
      id: "authz-1",
      accountId: acct.id,
      identifier: { type: "dns" as const, value: "host.lan" },
      status: "pending" as const,
      expires: now + DAY,
      challenges: [{ type: "http-01" as const, token: "tok", status: "pending" as const }],
    };
    const order = {
      id: "order-1",
      accountId: acct.id,
      status: "pending" as const,
      identifiers: [authz.identifier],
      authzIds: [authz.id],
      expires: now + DAY,
      error: null,
      certSerial: null,
      replaces: null,
      notBefore: null,
      notAfter: null,
      createdAt: now,
    };
    await a.acme.orders.create(order, [authz]);
    assert.deepEqual(await b.acme.orders.byId(order.id), order);
    await b.acme.authzs.save({
      ...authz,
      status: "valid",
      challenges: authz.challenges.map((c) => ({ ...c, status: "valid" as const, validated: now })),
    });
    assert.equal((await a.acme.authzs.byId(authz.id))?.challenges[0]?.validated, now);
    assert.equal(await a.acme.authzs.heldFor(acct.id, authz.identifier, now), true);
    const claims = await Promise.all([a.acme.orders.claim(order.id), b.acme.orders.claim(order.id)]);
    assert.deepEqual(claims.sort(), [false, true]);
    await a.acme.orders.update(order.id, { status: "valid", certSerial: "abc" });
    assert.equal((await b.acme.orders.byCertSerial("abc"))?.id, order.id);
    assert.equal((await b.acme.orders.ofAccount(acct.id)).length, 1);
    assert.deepEqual(await a.acme.eabs.revoke("team", now), "revoked");
    assert.deepEqual(await b.acme.eabs.revoke("team", now), "already");
    assert.equal((await a.acme.eabs.list())[0]?.accounts, 1);
  });

  test("PostgreSQL down: a 503 fault (storageFault), ping rejects; back up: the same store works again", async () => {
    await a.ping();
    await server.stopServer();
    await assert.rejects(a.tokens.list(), (e) => storageFault(e) !== null);
    // certs list's stream of text too (an async generator, classified step by step)
    const listing = a.certificates.listText({ now: Date.now(), states: ["valid"], limit: 10 }, true);
    await assert.rejects(listing.next(), (e) => storageFault(e) !== null);
    await assert.rejects(a.ping(), (e) => /PostgreSQL/.test(storageFault(e) ?? ""));
    await server.startServer();
    await a.ping();
    assert.ok((await b.tokens.list()).length > 0);
  });

  test("PostgreSQL read-only (a standby after failover): writes and ping are 503 faults, reads go on", async () => {
    await server.setReadOnly(true);
    try {
      await assert.rejects(a.tokens.create(token()), (e) =>
        /read-only.*\(25006\)/.test(storageFault(e) ?? ""),
      );
      await assert.rejects(b.ping(), (e) => /read-only/.test(storageFault(e) ?? ""));
      assert.ok((await a.tokens.list()).length > 0);
    } finally {
      await server.setReadOnly(false);
    }
    await b.ping();
    await a.tokens.create(token());
  });
});
