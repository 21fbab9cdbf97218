import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eabCreate } from "../../services/ca/cli/eab-cmds.js";
import { TestAcmeClient } from "../helpers/acme-client.js";
import { startCa, type TestCa } from "../helpers/ca.js";

const ACME_ERR = "urn:ietf:params:acme:error:";
const limits = { newAccountLimit: 3, newAccountWindowMs: 60_000 };

/**
 * Issue 17: the ACME new-account limit per client address is counted in the database, so two
 * servers on one data directory and database (replicas behind a balancer) hold one limit; it was
 * counted in each process's memory, which let a client create the limit's worth at every replica.
 */
describe("ACME new accounts are counted across servers on one database", () => {
  let a: TestCa;
  let b: TestCa;
  let kid: string;
  let hmac: string;
  before(async () => {
    a = await startCa({ acme: { limits } });
    b = await startCa({ dataDir: a.dataDir, acme: { limits } });
    [kid = "", hmac = ""] = (
      await eabCreate({ ...a.data, name: "shared", dns: ["*.test"], accounts: "100" })
    ).split(" ");
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  const register = async (ca: TestCa, key: string) =>
    (await TestAcmeClient.create(`${ca.url}/acme/directory`, ca.rootPem)).register(kid, key);

  test("3 attempts alternating between the servers: the 4th is refused with 429 on either, a right EAB too", async () => {
    const wrong = Buffer.alloc(32, 7).toString("base64url");
    assert.equal((await register(a, hmac)).status, 201);
    assert.equal((await register(b, wrong)).status, 403);
    assert.equal((await register(a, wrong)).status, 403);
    for (const ca of [a, b]) {
      const res = await register(ca, hmac);
      assert.equal(res.status, 429, res.body.toString());
      assert.equal(res.json().type, `${ACME_ERR}rateLimited`);
      assert.ok(Number(res.headers["retry-after"]) >= 1);
    }
  });

  test("a window that has passed starts again", async () => {
    const later = await startCa({ dataDir: a.dataDir, clock: () => Date.now() + 61_000, acme: { limits } });
    try {
      assert.equal((await register(later, hmac)).status, 201);
    } finally {
      await later.close();
    }
  });
});
