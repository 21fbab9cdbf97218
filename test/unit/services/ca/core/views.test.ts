import assert from "node:assert/strict";
import { test } from "node:test";
import type { InventoryRow } from "../../../../../services/ca/core/inventory.js";
import { certificateView, certificateViewsText } from "../../../../../services/ca/core/views.js";

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
