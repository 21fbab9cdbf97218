import assert from "node:assert/strict";
import { INVENTORY_STATES, type InventoryState, stateOf } from "../../services/ca/core/inventory.js";
import type { CertificateRecord } from "../../services/ca/core/types.js";
import { DAY_MS } from "../../services/ca/store/dashboard.js";
import type { StorePorts } from "../../services/ca/store/ports.js";

/** What the overview's cases need of a store: the SQLite one and the PostgreSQL one alike. */
export type DashboardStoreUnderTest = Pick<StorePorts, "certificates" | "dashboard" | "recordIssued">;

const HOUR = 3_600_000;

/** A small seeded generator (mulberry32): the same certificates on every run and in both dialects. */
function seeded(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

interface Known {
  notAfter: number;
  revokedAt: number | null;
  renewed: boolean;
}

/** The overview's figures computed from every certificate, one by one (core/inventory.ts stateOf). */
function expected(known: Iterable<Known>, now: number, days: number) {
  const counts = Object.fromEntries(INVENTORY_STATES.map((s) => [s, 0])) as Record<InventoryState, number>;
  const perDay = new Array<number>(days).fill(0);
  let later = 0;
  const d0 = Math.floor(now / DAY_MS);
  for (const k of known) {
    const state = stateOf(k, k.renewed, now);
    counts[state]++;
    if (state !== "valid") continue;
    const d = Math.floor((k.notAfter - 1) / DAY_MS) - d0;
    if (d < days) perDay[d] = (perDay[d] ?? 0) + 1;
    else later++;
  }
  return { counts, perDay, later };
}

/**
 * Certificates issued (some at once, `parallel` at a time), renewed and revoked, expiring from
 * days ago to past the timeline, several on midnights; then, at instants that walk through a day
 * and past midnights with no write in between (the expired move with the clock alone), the
 * overview's figures equal those counted certificate by certificate, and the metrics' full count.
 */
export async function overviewMatchesFullCount(store: DashboardStoreUnderTest, parallel = 1): Promise<void> {
  const rand = seeded(18);
  const day0 = Date.UTC(2026, 11, 3);
  const base = day0 + 10 * HOUR;
  const known = new Map<string, Known>();
  let serialNo = 0;
  const record = (notAfter: number, renewedFrom: string | null = null): CertificateRecord => {
    serialNo++;
    return {
      serial: `d${serialNo.toString(16).padStart(31, "0")}`,
      tokenId: null,
      renewedFrom,
      commonName: null,
      dnsNames: [`h${serialNo}.lan`],
      ipAddresses: [],
      notBefore: notAfter - 30 * DAY_MS,
      notAfter,
      keyFingerprint: "00",
      pem: "",
      createdAt: base,
      revokedAt: null,
      revocationReason: null,
    };
  };
  const issue = async (recs: CertificateRecord[]) => {
    for (let i = 0; i < recs.length; i += parallel) {
      await Promise.all(recs.slice(i, i + parallel).map((r) => store.recordIssued(r, null, base)));
    }
    for (const r of recs) {
      known.set(r.serial, { notAfter: r.notAfter, revokedAt: null, renewed: false });
      const from = r.renewedFrom && known.get(r.renewedFrom);
      if (from) from.renewed = true;
    }
  };
  const first = Array.from({ length: 240 }, (_, i) =>
    record(
      i % 12 === 0
        ? day0 + (rand(8) - 2) * DAY_MS // on a midnight: the last instant of its day
        : day0 + rand(100 * DAY_MS) - 4 * DAY_MS,
    ),
  );
  await issue(first);
  const renewed = first.filter((_, i) => i % 5 === 1);
  await issue(renewed.map((old) => record(old.notAfter + rand(40 * DAY_MS) + 1, old.serial)));
  const serials = [...known.keys()];
  for (let i = 0; i < 50; i++) {
    const serial = serials[rand(serials.length)] ?? "";
    const k = known.get(serial);
    const result = await store.certificates.revoke(serial, 1, base);
    assert.equal(result, k?.revokedAt === null ? "revoked" : "already");
    if (k && k.revokedAt === null) k.revokedAt = base;
  }
  const instants = [
    base,
    day0 + 1,
    base + 7 * HOUR,
    day0 + DAY_MS - 1,
    day0 + DAY_MS,
    day0 + DAY_MS + 1,
    base + 3 * DAY_MS + 5 * HOUR,
    base + 40 * DAY_MS,
    base + 200 * DAY_MS,
  ];
  for (const now of instants) {
    const want = expected(known.values(), now, 90);
    const got = await store.dashboard.expiryTimeline(now, 90);
    assert.deepEqual(got, want, `at ${new Date(now).toISOString()}`);
    assert.deepEqual((await store.certificates.stateCounts(now, [])).states, want.counts);
    // the metrics' counts from the summary equal the full count, for windows that end on a
    // midnight, just before or after one, within today, and past the timeline
    const windows = [7 * DAY_MS, 30 * DAY_MS, 1, HOUR, DAY_MS, day0 + 3 * DAY_MS - now, 120 * DAY_MS];
    windows.push(day0 + 3 * DAY_MS - now + 1, day0 + 3 * DAY_MS - now - 1);
    assert.deepEqual(
      await store.dashboard.stateCounts(now, windows),
      await store.certificates.stateCounts(now, windows),
      `metrics at ${new Date(now).toISOString()}`,
    );
  }
  const sum = Object.values(expected(known.values(), base, 90).counts).reduce((a, b) => a + b, 0);
  assert.equal(sum, known.size);
}
