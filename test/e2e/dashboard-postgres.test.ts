import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pgDriver from "pg";
import type { CertificateRecord } from "../../services/ca/core/types.js";
import { DAY_MS } from "../../services/ca/store/dashboard.js";
import { parseDbUrl } from "../../services/ca/store/db-url.js";
import { openStore } from "../../services/ca/store/index.js";
import { type PgLocation, SERVE_CONNECTIONS } from "../../services/ca/store/pg/db.js";
import { openPgStore, type PgStore } from "../../services/ca/store/pg/index.js";
import { overviewMatchesFullCount } from "../helpers/dashboard-cases.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";

let n = 0;
function cert(notAfter: number, o: Partial<CertificateRecord> = {}): CertificateRecord {
  n++;
  return {
    serial: n.toString(16).padStart(32, "0"),
    tokenId: null,
    renewedFrom: null,
    commonName: null,
    dnsNames: [`h${n}.lan`],
    ipAddresses: [],
    notBefore: notAfter - 30 * DAY_MS,
    notAfter,
    keyFingerprint: "00",
    pem: "",
    createdAt: notAfter - 30 * DAY_MS,
    revokedAt: null,
    revocationReason: null,
    ...o,
  };
}

/** The dashboard's store on a real PostgreSQL 15: the same figures as SQLite's, and its sessions. */
describe("dashboard store on PostgreSQL", () => {
  let server: TestPostgres;
  let pg: PgStore;
  const dir = mkdtempSync(join(tmpdir(), "certyard-dash-pg-"));
  before(async () => {
    server = await startPostgres();
    pg = await openPgStore(parseDbUrl(server.socketUrl, "/nonexistent") as PgLocation, { create: true });
  });
  after(async () => {
    await pg?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("counts by state and the expiry timeline equal SQLite's for the same certificates", async () => {
    const sqlite = openStore(join(dir, "certyard.db"), { create: true });
    try {
      const day0 = Date.UTC(2026, 11, 3);
      const now = day0 + 10 * 3_600_000;
      const old = cert(day0 + 3 * DAY_MS + 5);
      const revoked = cert(day0 + 2 * DAY_MS + 5);
      const records = [
        cert(day0 + 9 * 3_600_000),
        cert(day0 + 11 * 3_600_000),
        cert(day0 + DAY_MS),
        cert(day0 + DAY_MS + 1),
        cert(day0 + 89 * DAY_MS + 5),
        cert(day0 + 90 * DAY_MS + 5),
        revoked,
        old,
        cert(day0 + 30 * DAY_MS + 5, { renewedFrom: old.serial }),
      ];
      for (const r of records) {
        await sqlite.certificates.insert(r);
        await pg.certificates.insert(r);
      }
      await sqlite.certificates.revoke(revoked.serial, 1, now);
      await pg.certificates.revoke(revoked.serial, 1, now);
      const expected = await sqlite.dashboard.expiryTimeline(now, 90);
      assert.deepEqual(expected.counts, { valid: 6, superseded: 1, expired: 1, revoked: 1 });
      assert.deepEqual(await pg.dashboard.expiryTimeline(now, 90), expected);
    } finally {
      await sqlite.close();
    }
  });

  test("after issues (8 at once, through several connections), renewals and revocations, and as time passes with no write, the overview equals a full count", async () => {
    await server.sql('create database "full_count"');
    const url = server.socketUrl.replace(`/${server.database}?`, "/full_count?");
    const fresh = await openPgStore(parseDbUrl(url, "/nonexistent") as PgLocation, { create: true });
    try {
      await overviewMatchesFullCount(fresh, 8);
      // the writers were spread over several of certificate_days' slots (one per connection's pid)
      const client = new pgDriver.Client({ connectionString: server.url.replace(/\/[^/]+$/, "/full_count") });
      await client.connect();
      try {
        const r = await client.query<{ n: string }>("select count(distinct slot) as n from certificate_days");
        assert.ok(Number(r.rows[0]?.n) >= 2, `slots: ${r.rows[0]?.n}`);
      } finally {
        await client.end();
      }
    } finally {
      await fresh.close();
    }
  });

  test("serve's pool has its connections open before the first page: the overview reads on them at once", async () => {
    const opened = async (name: string) =>
      Number(
        (await server.sql(`select count(*) from pg_stat_activity where application_name = '${name}'`)).trim(),
      );
    const open = (name: string, o: { serve?: boolean }) =>
      openPgStore(
        parseDbUrl(`${server.socketUrl}&application_name=${name}`, "/nonexistent") as PgLocation,
        o,
      );
    const cli = await open("certyard-cli", {});
    try {
      // a CLI command's pool opens what it uses: one connection, for the migrations
      assert.equal(await opened("certyard-cli"), 1);
    } finally {
      await cli.close();
    }
    const serve = await open("certyard-serve", { serve: true });
    try {
      assert.equal(await opened("certyard-serve"), SERVE_CONNECTIONS);
      const now = Date.UTC(2026, 11, 3, 10);
      await Promise.all([
        serve.dashboard.expiryTimeline(now, 90),
        serve.crls.latest(),
        serve.hosts.hostReports(),
      ]);
      assert.equal(await opened("certyard-serve"), SERVE_CONNECTIONS);
    } finally {
      await serve.close();
    }
  });

  test("the audit page's filters: by actor kind, by actor, by type, after an id", async () => {
    const at = Date.UTC(2026, 11, 3);
    const event = (kind: "admin" | "session", id: string, type: "dashboard.login" | "token.created") => ({
      at,
      type,
      actor: { kind, id },
      subject: null,
      details: {},
    });
    await pg.audit.append(event("session", "aaaaaaaaaaaa", "dashboard.login"));
    await pg.audit.append(event("session", "bbbbbbbbbbbb", "dashboard.login"));
    await pg.audit.append(event("admin", "admin", "token.created"));
    const list = async (q: Omit<Parameters<PgStore["audit"]["list"]>[0], "limit">) =>
      (await pg.audit.list({ ...q, limit: 10 })).map((e) => `${e.actor.kind}:${e.actor.id} ${e.type}`);
    assert.deepEqual(await list({ actorKind: "session" }), [
      "session:aaaaaaaaaaaa dashboard.login",
      "session:bbbbbbbbbbbb dashboard.login",
    ]);
    assert.deepEqual(await list({ actorKind: "session", actorId: "bbbbbbbbbbbb" }), [
      "session:bbbbbbbbbbbb dashboard.login",
    ]);
    assert.deepEqual(await list({ types: ["token.created"] }), ["admin:admin token.created"]);
    const [first] = await pg.audit.list({ limit: 1 });
    assert.deepEqual((await list({ afterId: first?.id })).length, 2);
  });

  test("sessions: created, found, touched, removed, swept", async () => {
    const s = {
      idHash: "a".repeat(64),
      adminTokenId: "admin",
      createdAt: 1000,
      lastSeen: 1000,
      expiresAt: 50_000,
    };
    await pg.sessions.create(s);
    await pg.sessions.create({ ...s, idHash: "b".repeat(64) });
    assert.deepEqual(await pg.sessions.find(s.idHash), s);
    await pg.sessions.touch(s.idHash, 2000);
    assert.equal((await pg.sessions.find(s.idHash))?.lastSeen, 2000);
    await pg.sessions.remove(s.idHash);
    assert.equal(await pg.sessions.find(s.idHash), null);
    assert.equal(await pg.sessions.sweep(60_000, 0), 1);
    assert.equal(await pg.sessions.find("b".repeat(64)), null);
  });
});
