import assert from "node:assert/strict";
import { Agent, request } from "node:https";
import { after, before, describe, test } from "node:test";
import pino from "pino";
import { caPaths } from "../../services/ca/keys/ca.js";
import { type RunningServer, startServer } from "../../services/ca/server.js";
import { type AcmeBed, startAcmeBed } from "../helpers/acme-bed.js";
import { TestAcmeClient } from "../helpers/acme-client.js";
import { dbLocationFor, tableCounts } from "../helpers/test-db.js";

const ERR = "urn:ietf:params:acme:error:";
const LIFETIME_MS = 600_000;

/** Rows in every table of the CA's database but drizzle's migration journal. */
async function rowCount(dataDir: string): Promise<number> {
  return Object.values(await tableCounts(dataDir)).reduce((sum, n) => sum + n, 0);
}

/** `n` GETs of `url` over a few keep-alive connections; resolves with the nonces they carried. */
async function getMany(url: string, rootPem: string, n: number): Promise<Set<string>> {
  const agent = new Agent({ keepAlive: true, maxSockets: 8, ca: rootPem });
  const nonces = new Set<string>();
  let next = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      request(url, { agent }, (res) => {
        nonces.add(String(res.headers["replay-nonce"]));
        res.resume();
        res.on("end", resolve);
      })
        .on("error", reject)
        .end();
    });
  const worker = async () => {
    while (next++ < n) await one();
  };
  try {
    await Promise.all(Array.from({ length: 8 }, worker));
  } finally {
    agent.destroy();
  }
  return nonces;
}

/** RFC 8555 6.5 nonces: issued without writing, used once, refused when replayed or expired. */
describe("ACME nonces", () => {
  let bed: AcmeBed;
  let client: TestAcmeClient;
  const readAccount = (nonce?: string) => client.post(client.accountUrl, null, nonce ? { nonce } : {});

  before(async () => {
    bed = await startAcmeBed({
      eab: { name: "nonces", dns: ["*.lan"] },
      limits: { nonceLifetimeMs: LIFETIME_MS, nonceSweepMs: 20 },
    });
    client = await bed.newClient();
  });
  after(() => bed.close());

  test("3,000 GETs, new-nonce and unknown paths alike, add no rows to the database", async () => {
    const before = await rowCount(bed.ca.dataDir);
    const [a, b] = await Promise.all([
      getMany(`${bed.ca.url}/acme/new-nonce`, bed.ca.rootPem, 1500),
      getMany(`${bed.ca.url}/acme/no-such-thing`, bed.ca.rootPem, 1500),
    ]);
    assert.equal(a.size + b.size, 3000, "every response carries a nonce of its own");
    assert.equal((await rowCount(bed.ca.dataDir)) - before, 0);
  });

  test("a nonce is accepted once; replayed, it is badNonce", async () => {
    const nonce = await client.freshNonce();
    const first = await readAccount(nonce);
    assert.equal(first.status, 200, first.body.toString());
    const again = await readAccount(nonce);
    assert.equal(again.status, 400);
    assert.equal(again.json().type, `${ERR}badNonce`);
    assert.ok(again.headers["replay-nonce"], "a badNonce answer carries a fresh nonce (6.5)");
  });

  test("an expired nonce is badNonce", async () => {
    const nonce = await client.freshNonce();
    bed.offsetMs = LIFETIME_MS + 1000;
    try {
      const res = await readAccount(nonce);
      assert.equal(res.status, 400);
      assert.equal(res.json().type, `${ERR}badNonce`);
    } finally {
      bed.offsetMs = 0;
    }
  });

  test("a nonce this CA did not issue is badNonce: altered, made up, or empty of meaning", async () => {
    const real = await client.freshNonce();
    const flipped = `${real.slice(0, -2)}${real.endsWith("AA") ? "BA" : "AA"}`;
    for (const nonce of [flipped, "bm90LWEtbm9uY2U", "A".repeat(real.length)]) {
      const res = await readAccount(nonce);
      assert.equal(res.status, 400, nonce);
      assert.equal(res.json().type, `${ERR}badNonce`, nonce);
    }
    assert.equal((await readAccount(real)).status, 200, "the real one still works");
  });

  test("what using a nonce records is gone once the nonce has expired (a timer, not chance)", async () => {
    const before = await rowCount(bed.ca.dataDir);
    for (let i = 0; i < 5; i++) assert.equal((await readAccount()).status, 200);
    const used = await rowCount(bed.ca.dataDir);
    assert.ok(used - before <= 5, `5 uses added ${used - before} rows`);
    bed.offsetMs = LIFETIME_MS + 10 * 60_000;
    try {
      // everything using nonces recorded, this test's and the earlier ones', is swept
      await pollUntil(async () => {
        const now = await rowCount(bed.ca.dataDir);
        return now <= before && now < used;
      });
    } finally {
      bed.offsetMs = 0;
    }
  });

  test("another CA process with the same keys and database accepts this one's nonces, once", async () => {
    const other: RunningServer = await startServer({
      paths: caPaths(bed.ca.dataDir, dbLocationFor(bed.ca.dataDir)),
      host: "127.0.0.1",
      port: 0,
      url: "https://127.0.0.1:0",
      servingNames: { dns: ["localhost"], ips: ["127.0.0.1"] },
      log: pino({ level: "silent" }),
      issuesServingCert: false,
    });
    try {
      const there = await TestAcmeClient.create(
        `https://127.0.0.1:${other.port}/acme/directory`,
        bed.ca.rootPem,
      );
      const nonce = await client.freshNonce();
      // onlyReturnExisting for a key with no account: 400 accountDoesNotExist, once the nonce passed
      const res = await there.post(
        there.url("newAccount"),
        { onlyReturnExisting: true },
        { useJwk: true, nonce },
      );
      assert.equal(res.json().type, `${ERR}accountDoesNotExist`, res.body.toString());
      const replay = await readAccount(nonce);
      assert.equal(replay.json().type, `${ERR}badNonce`);
    } finally {
      await other.close();
    }
  });
});

/** Polls `cond` until it holds, for at most five seconds. */
async function pollUntil(cond: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + 5000;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("condition not met within 5 s");
    await new Promise((r) => setTimeout(r, 20));
  }
}
