import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startCa, type TestCa } from "../helpers/ca.js";

/**
 * Two CA processes' worth of servers on one data directory and database, as replicas behind a
 * balancer: a client's failed authentications are counted in the database, so the limit is the
 * same whichever server each request reaches.
 */
describe("failed authentications are counted across servers on one database", () => {
  let a: TestCa;
  let b: TestCa;
  before(async () => {
    a = await startCa({ failedAuth: { limit: 4, windowMs: 60_000 } });
    b = await startCa({ dataDir: a.dataDir, failedAuth: { limit: 4, windowMs: 60_000 } });
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  test("4 failures alternating between the servers: the 5th request is refused with 429 on either, a right token too", async () => {
    for (let i = 0; i < 4; i++) {
      const r = await (i % 2 ? b : a).request("/v1/certs", { token: "cy_wrong" });
      assert.equal(r.status, 401, r.body.toString());
    }
    for (const ca of [a, b]) {
      const r = await ca.request("/v1/certs", { token: a.adminToken });
      assert.equal(r.status, 429, r.body.toString());
      assert.ok(Number(r.headers["retry-after"]) >= 1);
    }
  });

  test("a window that has passed starts again", async () => {
    // the other suite's window is a minute long: a server whose clock is past it counts afresh
    const later = await startCa({
      dataDir: a.dataDir,
      clock: () => Date.now() + 61_000,
      failedAuth: { limit: 4, windowMs: 60_000 },
    });
    try {
      const r = await later.request("/v1/certs", { token: a.adminToken });
      assert.equal(r.status, 200, r.body.toString());
    } finally {
      await later.close();
    }
  });
});
