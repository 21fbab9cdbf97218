import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { TestAcmeClient } from "../helpers/acme-client.js";
import { caCli, serveProcess } from "../helpers/ca-process.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";
import { type Replica, startReplica, stopReplicas } from "../helpers/replica-process.js";
import { freePort } from "./support.js";

const ACME_ERR = "urn:ietf:params:acme:error:";

/**
 * Issue 17: the ACME new-account limit per client address on a real PostgreSQL 15, two replica
 * processes (each its own copy of the data directory) on one database: the limit (3 a minute
 * here) holds across them, counted by one statement in rate_windows. It was counted in each
 * process's memory, which let a client create the limit's worth at every replica. And a third
 * replica without admin-token refuses to start rather than replace the installation's one.
 */
describe("replicas on PostgreSQL: the ACME new-account limit across two, the admin token of a third", () => {
  let server: TestPostgres;
  let dir: string;
  let replicas: Replica[] = [];
  let rootPem: string;
  let kid: string;
  let hmac: string;
  before(async () => {
    server = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), "certyard-pg-limits-"));
    const a = join(dir, "a");
    const b = join(dir, "b");
    const init = caCli(["init", "--data", a, "--db", server.url]);
    assert.equal(init.code, 0, init.stderr);
    cpSync(a, b, { recursive: true });
    const eab = caCli(
      ["eab", "create", "--name", "e", "--dns", "*.test", "--accounts", "100"].concat([
        "--data",
        a,
        "--db",
        server.url,
      ]),
    );
    assert.equal(eab.code, 0, eab.stderr);
    [kid = "", hmac = ""] = eab.stdout.trim().split(" ");
    rootPem = readFileSync(join(a, "root.crt"), "utf8");
    const acmeLimits = { newAccountLimit: 3, newAccountWindowMs: 60_000 };
    replicas = await Promise.all(
      [a, b].map(async (data) => startReplica(data, server.url, { port: await freePort(), acmeLimits })),
    );
  });
  after(async () => {
    await stopReplicas(replicas);
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const register = async (r: Replica, key: string) =>
    (await TestAcmeClient.create(`https://127.0.0.1:${r.port}/acme/directory`, rootPem)).register(kid, key);

  test("3 attempts alternating between the replicas: the 4th is refused with 429 at either, a right EAB too", async () => {
    const [a, b] = replicas;
    assert.ok(a && b);
    const wrong = Buffer.alloc(32, 7).toString("base64url");
    assert.equal((await register(a, hmac)).status, 201);
    assert.equal((await register(b, wrong)).status, 403);
    assert.equal((await register(a, wrong)).status, 403);
    for (const r of [a, b]) {
      const res = await register(r, hmac);
      assert.equal(res.status, 429, res.body.toString());
      assert.equal(res.json().type, `${ACME_ERR}rateLimited`);
      assert.ok(Number(res.headers["retry-after"]) >= 1);
    }
    assert.equal(
      await server.sql("select count from rate_windows where key = 'acme-new-account:127.0.0.1'"),
      "5\n",
    );
  });

  test("a third replica whose data directory lacks admin-token refuses to start, and mints none", async () => {
    const c = join(dir, "c");
    cpSync(join(dir, "a"), c, { recursive: true });
    rmSync(join(c, "admin-token"));
    const before = await server.sql("select secret_hash from tokens where kind = 'admin'");
    const refusal = await serveProcess(c, ["--db", server.url]).then(
      async (s) => {
        await s.stop();
        return "it started";
      },
      (err: Error) => err.message,
    );
    assert.match(refusal, /admin-token is missing, and the database postgres:\/\/.* has an admin token/);
    assert.equal(existsSync(join(c, "admin-token")), false);
    assert.equal(await server.sql("select secret_hash from tokens where kind = 'admin'"), before);
  });
});
