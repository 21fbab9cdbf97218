import assert from "node:assert/strict";
import { test } from "node:test";
import type { InventoryRow } from "../../../../../services/ca/core/inventory.js";
import {
  certificateView,
  certificateViewsBytes,
  certificateViewsText,
} from "../../../../../services/ca/core/views.js";

const base: InventoryRow = {
  serial: "0a1b2c",
  tokenId: "12c2663a444833ee",
  renewedFrom: null,
  commonName: "registry.lan",
  dnsNames: ["registry.lan"],
  ipAddresses: ["10.0.0.1", "fd00::1"],
  notBefore: Date.UTC(2026, 0, 1),
  notAfter: Date.UTC(2026, 0, 31, 23, 59, 59, 999),
  keyFingerprint: "ab".repeat(32),
  revokedAt: null,
  state: "valid",
};

test("certificateViewsText: the rows as JSON.stringify(rows, null, 2) prints them inside the array", () => {
  const rows: InventoryRow[] = [
    base,
    { ...base, commonName: null, dnsNames: [], ipAddresses: [], tokenId: null, state: "expired" },
    { ...base, renewedFrom: "ff", revokedAt: 1, state: "revoked" },
    { ...base, commonName: 'a"b\\c\nd\u0001\u2028é😀', dnsNames: ['x"y', "z"], state: "superseded" },
  ];
  const whole = JSON.stringify(rows.map(certificateView), null, 2);
  assert.equal(`[\n${certificateViewsText(rows)}\n]`, whole);
  // pages joined as `certs list --json` joins them print the same array
  const paged = [rows.slice(0, 1), rows.slice(1)].map(certificateViewsText).join(",\n");
  assert.equal(`[\n${paged}\n]`, whole);
  assert.equal(
    certificateViewsText([base]),
    `  ${JSON.stringify(certificateView(base), null, 2).replaceAll("\n", "\n  ")}`,
  );
  assert.equal(certificateViewsText([]), "");
});

test("certificateViewsText: the same text as JSON.stringify over times and strings of every kind", () => {
  const strings = [
    "",
    "a",
    'q"',
    "b\\s",
    "tab\t",
    "\u0000",
    "\u001f",
    "\u007f",
    "é",
    "😀",
    "\ud800",
    "\u2028",
    " ",
  ];
  const times = [
    0,
    1,
    999,
    86_399_999,
    86_400_000,
    Date.UTC(1969, 11, 31, 23, 59, 59, 999),
    -1,
    -62_198_755_200_000, // year 0
    Date.UTC(9999, 11, 31, 23, 59, 59, 999),
    253_402_300_800_000, // year 10000
    8.64e15,
    1.5,
    Date.UTC(2026, 1, 28, 12, 34, 56, 789),
    Date.UTC(2028, 1, 29, 0, 0, 0, 1),
  ];
  const rows: InventoryRow[] = [];
  for (let i = 0; i < 400; i++) {
    const s = (k: number) => strings[(i * 7 + k) % strings.length] as string;
    rows.push({
      ...base,
      serial: i % 5 === 0 ? s(1) : base.serial,
      commonName: i % 3 === 0 ? null : s(2),
      dnsNames: Array.from({ length: i % 4 }, (_, k) => s(k + 3)),
      ipAddresses: i % 2 ? [] : [s(4)],
      tokenId: i % 6 === 0 ? null : s(5),
      renewedFrom: i % 4 === 0 ? s(6) : null,
      keyFingerprint: i % 9 === 0 ? s(7) : base.keyFingerprint,
      notBefore: times[i % times.length] as number,
      // in order, as pages come, and out of it
      notAfter: i % 2 ? (times[(i * 5) % times.length] as number) : Date.UTC(2026, 0, 1) + i * 3_600_000,
      revokedAt: i % 7 === 0 ? 1 : null,
      state: (["valid", "superseded", "expired", "revoked"] as const)[i % 4] as InventoryRow["state"],
    });
  }
  assert.equal(`[\n${certificateViewsText(rows)}\n]`, JSON.stringify(rows.map(certificateView), null, 2));
  assert.deepEqual(certificateViewsBytes(rows), Buffer.from(certificateViewsText(rows), "utf8"));
});

test("certificateViewsBytes: certificateViewsText in UTF-8, rows far past the size it first reserves", () => {
  // 100 names of 60 characters, some of four bytes each: several kB of UTF-8 a row
  const wide = (i: number): InventoryRow => ({
    ...base,
    dnsNames: Array.from({ length: 100 }, (_, k) => `${"😀é".repeat(k % 3)}n${i}-${k}.${"x".repeat(50)}.lan`),
  });
  assert.equal(certificateViewsBytes([]).length, 0);
  for (const rows of [[wide(0)], [base, wide(1), base], Array.from({ length: 50 }, (_, i) => wide(i))]) {
    const bytes = certificateViewsBytes(rows);
    assert.deepEqual(bytes, Buffer.from(certificateViewsText(rows), "utf8"));
    assert.equal(`[\n${bytes.toString("utf8")}\n]`, JSON.stringify(rows.map(certificateView), null, 2));
  }
});
