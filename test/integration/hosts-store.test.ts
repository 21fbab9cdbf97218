import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { openStore, type SqliteStore } from "../../services/ca/store/index.js";
import { hostStoreCases } from "../helpers/host-store-cases.js";

/** Two connections to one SQLite file, as two serve processes on one data directory have. */
describe("the hosts and alerts store on SQLite, two connections", () => {
  const dir = mkdtempSync(join(tmpdir(), "certyard-hosts-store-"));
  let a: SqliteStore;
  let b: SqliteStore;
  before(() => {
    a = openStore(join(dir, "certyard.db"), { create: true });
    b = openStore(join(dir, "certyard.db"));
  });
  after(async () => {
    await a.close();
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a report replaces the row of its name and host", () => hostStoreCases.reportsRoundTrip(a, b));
  test("the newest certificate: same names, not revoked, the successor of one renewed", () =>
    hostStoreCases.newestIsTheUnrenewedLatestWithTheSameNames(a));
  test("an alert fires once and resolves once across both", () =>
    hostStoreCases.anAlertFlipsOnceAcrossBoth(a, b));
});
