import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { BUSY_TIMEOUT_MS, connect, openDb } from "../../../../../services/ca/store/db.js";

const dir = mkdtempSync(join(tmpdir(), "certyard-db-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("the database: WAL, synchronous=FULL (an issued certificate is durable before it is returned), a busy timeout", () => {
  const path = join(dir, "certyard.db");
  const { sqlite, close } = openDb(path, { create: true });
  try {
    assert.equal(sqlite.pragma("journal_mode", { simple: true }), "wal");
    // 2 is FULL (NORMAL, 1, could lose the last commits on power loss)
    assert.equal(sqlite.pragma("synchronous", { simple: true }), 2);
    assert.equal(sqlite.pragma("busy_timeout", { simple: true }), BUSY_TIMEOUT_MS);
  } finally {
    close();
  }
  // every other connection (the existence check, backups, integrity checks) waits as long
  for (const readonly of [false, true]) {
    const other = connect(path, { readonly });
    try {
      assert.equal(other.pragma("busy_timeout", { simple: true }), BUSY_TIMEOUT_MS);
    } finally {
      other.close();
    }
  }
});
