import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { CertificateRecord } from "../../../../../services/ca/core/types.js";
import { DAY_MS } from "../../../../../services/ca/store/dashboard.js";
import { openStore } from "../../../../../services/ca/store/index.js";
import { overviewMatchesFullCount } from "../../../../helpers/dashboard-cases.js";

const dir = mkdtempSync(join(tmpdir(), "certyard-dashboard-"));
after(() => rmSync(dir, { recursive: true, force: true }));

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

test("the expiry timeline counts the valid certificates by UTC day of expiry: not the expired, revoked or superseded", async () => {
  const store = openStore(join(dir, "certyard.db"), { create: true });
  try {
    const day0 = Date.UTC(2026, 11, 3);
    const now = day0 + 10 * 3_600_000; // 10:00 UTC
    const c = store.certificates;
    await c.insert(cert(day0 + 9 * 3_600_000)); // expired at 09:00 today
    await c.insert(cert(day0 + 11 * 3_600_000)); // today, still valid
    await c.insert(cert(day0 + DAY_MS)); // midnight: the last instant of today
    await c.insert(cert(day0 + DAY_MS + 1)); // tomorrow
    await c.insert(cert(day0 + 89 * DAY_MS + 5)); // the timeline's last day
    await c.insert(cert(day0 + 90 * DAY_MS + 5)); // later
    const revoked = cert(day0 + 2 * DAY_MS + 5);
    await c.insert(revoked);
    await c.revoke(revoked.serial, 1, now);
    const old = cert(day0 + 3 * DAY_MS + 5);
    await c.insert(old);
    await c.insert(cert(day0 + 30 * DAY_MS + 5, { renewedFrom: old.serial })); // renews old: old is superseded
    const { perDay, later, counts } = await store.dashboard.expiryTimeline(now, 90);
    assert.equal(perDay.length, 90);
    const expected = new Array(90).fill(0);
    expected[0] = 2;
    expected[1] = 1;
    expected[30] = 1;
    expected[89] = 1;
    assert.deepEqual(perDay, expected);
    assert.equal(later, 1);
    const expectedCounts = { valid: 6, superseded: 1, expired: 1, revoked: 1 };
    assert.deepEqual(counts, expectedCounts);
    // the same as the metrics' counts
    assert.deepEqual((await c.stateCounts(now, [])).states, expectedCounts);
  } finally {
    await store.close();
  }
});

test("after issues, renewals and revocations, and as time passes with no write, the overview equals a full count", async () => {
  const store = openStore(join(dir, "full-count.db"), { create: true });
  try {
    await overviewMatchesFullCount(store);
  } finally {
    await store.close();
  }
});

test("certificates stored before the summary existed are counted in it: the migration fills it", async () => {
  const path = join(dir, "before.db");
  await openStore(path, { create: true }).close();
  const { default: Database } = await import("better-sqlite3");
  const raw = new Database(path);
  const day0 = Date.UTC(2026, 11, 3);
  // as a database from before migration 0015: certificates there, no summary, no triggers
  raw.exec(`drop trigger certificate_days_insert; drop trigger certificate_days_update;
    drop trigger certificate_days_delete; delete from certificate_days`);
  const insert = raw.prepare(
    `insert into certificates (serial, token_id, renewed_from, renewed_by, common_name, dns_names, ip_addresses,
       not_before, not_after, key_fingerprint, pem, created_at, revoked_at, revocation_reason)
     values (?, null, null, ?, null, '[]', '[]', 0, ?, '00', '', 0, ?, null)`,
  );
  insert.run("01", null, day0 + 5 * DAY_MS, null);
  insert.run("02", "01", day0 + 6 * DAY_MS, null);
  insert.run("03", null, day0 + 7 * DAY_MS, day0);
  insert.run("04", null, day0 - 1, null);
  // forget 0015 and what came after: the next open runs them again, on these rows
  const journal = JSON.parse(
    readFileSync(new URL("../../../../../../migrations/meta/_journal.json", import.meta.url), "utf8"),
  ) as { entries: { tag: string; when: number }[] };
  const since = journal.entries.find((e) => e.tag === "0015_certificate_days")?.when;
  assert.ok(since);
  raw.prepare("delete from __drizzle_migrations where created_at >= ?").run(since);
  raw.exec("drop table certificate_days");
  raw.close();
  const store = openStore(path);
  try {
    const { counts } = await store.dashboard.expiryTimeline(day0 + 10 * 3_600_000, 90);
    assert.deepEqual(counts, { valid: 1, superseded: 1, expired: 1, revoked: 1 });
  } finally {
    await store.close();
  }
});

test("sessions: stored by hash, touched, removed; sweep drops those past their end or idle too long", async () => {
  const store = openStore(join(dir, "sessions.db"), { create: true });
  try {
    const s = {
      idHash: "a".repeat(64),
      adminTokenId: "admin",
      createdAt: 1000,
      lastSeen: 1000,
      expiresAt: 50_000,
    };
    await store.sessions.create(s);
    await store.sessions.create({ ...s, idHash: "b".repeat(64), lastSeen: 40_000 });
    await store.sessions.create({ ...s, idHash: "c".repeat(64), lastSeen: 40_000, expiresAt: 100_000 });
    assert.deepEqual(await store.sessions.find(s.idHash), s);
    await store.sessions.touch(s.idHash, 2000);
    assert.equal((await store.sessions.find(s.idHash))?.lastSeen, 2000);
    // at 60,000 with sessions idle since before 30,000 ended: a (idle) and b (past its end) go
    assert.equal(await store.sessions.sweep(60_000, 30_000), 2);
    assert.equal(await store.sessions.find(s.idHash), null);
    assert.ok(await store.sessions.find("c".repeat(64)));
    await store.sessions.remove("c".repeat(64));
    assert.equal(await store.sessions.find("c".repeat(64)), null);
  } finally {
    await store.close();
  }
});
