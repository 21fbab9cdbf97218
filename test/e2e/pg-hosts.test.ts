import { after, before, describe, test } from "node:test";
import { parseDbUrl } from "../../services/ca/store/db-url.js";
import type { PgLocation } from "../../services/ca/store/pg/db.js";
import { openPgStore, type PgStore } from "../../services/ca/store/pg/index.js";
import { hostStoreCases } from "../helpers/host-store-cases.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";

/** The same cases as test/integration/hosts-store.test.ts, on a real PostgreSQL, two replicas' pools. */
describe("the hosts and alerts store on PostgreSQL, two replicas on one database", () => {
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

  test("a report replaces the row of its name and host", () => hostStoreCases.reportsRoundTrip(a, b));
  test("the newest certificate: same names, not revoked, the successor of one renewed", () =>
    hostStoreCases.newestIsTheUnrenewedLatestWithTheSameNames(a));
  test("an alert fires once and resolves once across both", () =>
    hostStoreCases.anAlertFlipsOnceAcrossBoth(a, b));
});
