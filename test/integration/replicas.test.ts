import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { httpsRequest } from "../helpers/ca.js";
import { caCli, type ServeProcess, serveProcess } from "../helpers/ca-process.js";
import { makeCsr } from "../helpers/openssl.js";
import { replicaDataDirs } from "../helpers/replica-process.js";

/*
 * Replicas: separate processes, each with its own copy of the data directory (the CA keys), on
 * one database (here one SQLite file, which several processes share for real). Nothing one of
 * them keeps in memory may make it answer otherwise than the others.
 */

/** An initialised CA in `a`, its keys copied to `b`, both to use a's database. */
const { two: twoDataDirs } = replicaDataDirs();

describe("two serve processes on one database", () => {
  let dirs: ReturnType<typeof twoDataDirs>;
  let one: ServeProcess;
  let two: ServeProcess;
  before(async () => {
    dirs = twoDataDirs("serve");
    [one, two] = await Promise.all([
      serveProcess(dirs.a, ["--db", `sqlite:${dirs.db}`]),
      serveProcess(dirs.b, ["--db", `sqlite:${dirs.db}`]),
    ]);
  });
  after(async () => {
    await Promise.all([one?.stop(), two?.stop()]);
  });
  const sign = (at: ServeProcess, token: string) =>
    httpsRequest(`${at.url}/v1/sign`, dirs.rootPem, {
      body: { csr: makeCsr({ san: ["DNS:host.lan"] }).csrPem },
      token,
    });

  test("a token revoked while both know it is refused by each at its next request", async () => {
    const made = caCli(["token", "create", "--data", dirs.a, "--name", "shared", "--dns", "*.lan"]);
    assert.equal(made.code, 0, made.stderr);
    const token = made.stdout.trim();
    // each has verified the secret, and holds the token in its cache
    assert.equal((await sign(one, token)).status, 201);
    assert.equal((await sign(two, token)).status, 201);
    const revoked = caCli(["token", "revoke", "shared", "--data", dirs.a]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal((await sign(two, token)).status, 401);
    assert.equal((await sign(one, token)).status, 401);
  });

  test("failed authentications count across replicas: the limit is reached through both together", async () => {
    const wrong = `cyt_${"0".repeat(16)}_${"A".repeat(43)}`;
    // 10 failures a minute are allowed (FAILED_AUTH_LIMIT). Alternating, each replica counting
    // alone would refuse only after 20; counted together, after 10 at most (the test before
    // this one failed twice from this address too)
    let refused = 0;
    for (let i = 0; i < 30; i++) {
      const res = await sign(i % 2 ? two : one, wrong);
      if (res.status === 429) break;
      assert.equal(res.status, 401);
      refused++;
    }
    assert.ok(refused >= 8 && refused <= 10, `${refused} refusals before 429`);
    for (const at of [one, two]) {
      const res = await sign(at, wrong);
      assert.equal(res.status, 429, res.body.toString());
      assert.ok(Number(res.headers["retry-after"]) > 0);
    }
  });
});
