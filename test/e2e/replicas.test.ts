import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { TestAcmeClient } from "../helpers/acme-client.js";
import { type HttpResult, httpsRequest } from "../helpers/ca.js";
import { csrToDer } from "../helpers/corpus.js";
import { makeCsr } from "../helpers/openssl.js";
import { type ChallTestSrv, startChallTestSrv } from "./acme-lego-support.js";
import {
  type Backend,
  inventorySerials,
  postgresRefusal,
  type ReplicaSet,
  startReplicaSet,
  tokenUsesLeft,
  writeGatedExecProvider,
} from "./replicas-support.js";
import { freePort, sh, until } from "./support.js";

/**
 * Issue 17: two `certyard-ca serve` replicas on one CA (one --data, one database) behind a real
 * HAProxy in TCP mode, round robin. Run on each database backend this build serves: SQLite
 * (both replicas on this machine, one file in WAL mode) and PostgreSQL once `--db postgres://`
 * is served (until then one test says that this build refuses it).
 */
const refusal = await postgresRefusal();
const backends: Backend[] = refusal === null ? ["sqlite", "postgres"] : ["sqlite"];

if (refusal !== null) {
  test("PostgreSQL: this build refuses --db postgres:// in one line, so the replica tests run on SQLite alone", () => {
    assert.match(refusal, /^certyard-ca: --db \S+: PostgreSQL support is not in this build yet; .*\n$/);
  });
}

for (const backend of backends) {
  describe(`two replicas behind HAProxy (${backend})`, { concurrency: false }, () => {
    let set: ReplicaSet;
    let cts: ChallTestSrv;
    let dir: string;
    let httpPort: number;
    /** http-01 answers for the replicas' validators (TestAcmeClient's issuance) */
    const answers = new Map<string, string>();
    let responder: Server | null = null;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), `certyard-e2e-replicas-${backend}-`));
      cts = await startChallTestSrv();
      httpPort = await freePort();
      set = await startReplicaSet({
        backend,
        serveArgs: [
          ...["--acme-http-port", String(httpPort), "--acme-dns-resolver", cts.dns],
          // the clients answer on loopback, which validation refuses unless allowed
          ...["--acme-validation-allow", "127.0.0.0/8"],
        ],
      });
    });
    after(async () => {
      responder?.close();
      await set?.stop();
      await cts?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const eab = async (name: string): Promise<[string, string]> => {
      const r = await set.cli(["eab", "create", "--name", name, "--dns", "*.test"]);
      assert.equal(r.code, 0, r.stderr);
      const [kid = "", hmac = ""] = r.stdout.trim().split(" ");
      return [kid, hmac];
    };
    const sessions = async () => {
      const s = await set.lb.stats();
      return Object.fromEntries(set.replicas.map((r) => [r.name, s[r.name]?.sessions ?? 0]));
    };
    const delta = (before: Record<string, number>, now: Record<string, number>) =>
      Object.fromEntries(Object.keys(now).map((k) => [k, (now[k] ?? 0) - (before[k] ?? 0)]));

    async function verifies(certFile: string): Promise<string> {
      const v = await sh("openssl", [
        ...["verify", "-x509_strict", "-CAfile", set.rootFile, "-untrusted", set.chainFile],
        certFile,
      ]);
      assert.equal(v.code, 0, v.stdout + v.stderr);
      const serial = await sh("openssl", ["x509", "-in", certFile, "-noout", "-serial"]);
      return serial.stdout
        .trim()
        .replace(/^serial=/, "")
        .toLowerCase();
    }

    test("an ACME issuance whose every request is a new connection: each replica answers every other request", async () => {
      responder = createServer((req, res) => {
        const answer = answers.get(req.url?.split("/").pop() ?? "");
        res.writeHead(answer ? 200 : 404).end(answer ?? "");
      });
      const server = responder;
      await new Promise<void>((resolve) => server.listen(httpPort, "127.0.0.1", resolve));
      const [kid, hmac] = await eab("rr-client");
      const start = await sessions();
      // TestAcmeClient opens a connection per request, so round robin alternates the replicas:
      // each nonce was issued by the replica that did not take the request it is used in.
      const client = await TestAcmeClient.create(`${set.url}/acme/directory`, set.rootPem);
      const account = await client.register(kid, hmac);
      assert.equal(account.status, 201, account.body.toString());
      const der = csrToDer(makeCsr({ san: ["DNS:rr.test"] }).csrPem);
      const issued = await client.issue({ type: "dns", value: "rr.test" }, der, (token, keyAuth) => {
        answers.set(token, keyAuth);
      });
      const d = delta(start, await sessions());
      const counts = Object.values(d);
      const total = counts.reduce((a, b) => a + b, 0);
      // directory, nonce, newAccount, newOrder, authz, challenge, finalize, download
      assert.ok(total >= 8, JSON.stringify(d));
      assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `not alternated: ${JSON.stringify(d)}`);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      responder = null;
      const serials = await inventorySerials(set);
      const leaf = new X509Certificate(issued.leafPem);
      assert.ok(
        serials.includes(leaf.serialNumber.toLowerCase()),
        "the issued certificate is in the inventory",
      );
    });

    test("lego and certbot issue through HAProxy", async () => {
      const [kid, hmac] = await eab("lego");
      const path = join(dir, "lego");
      const r = await sh(
        "lego",
        [
          ...["--server", `${set.url}/acme/directory`, "--eab", "--kid", kid, "--hmac", hmac],
          ...["--email", "e@x.test", "--accept-tos", "--domains", "lego.test"],
          ...["--http", "--http.port", `:${httpPort}`, "--path", path, "run"],
        ],
        { env: { LEGO_CA_CERTIFICATES: set.rootFile } },
      );
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const legoSerial = await verifies(join(path, "certificates", "lego.test.crt"));

      const [ckid, chmac] = await eab("certbot");
      const base = join(dir, "certbot");
      const c = await sh(
        "certbot",
        [
          ...["certonly", "--standalone", "--http-01-port", String(httpPort)],
          ...["--server", `${set.url}/acme/directory`, `--eab-kid=${ckid}`, `--eab-hmac-key=${chmac}`],
          ...["--agree-tos", "-m", "e@x.test", "-d", "certbot.test", "--non-interactive"],
          ...["--config-dir", join(base, "c"), "--work-dir", join(base, "w"), "--logs-dir", join(base, "l")],
        ],
        { env: { REQUESTS_CA_BUNDLE: set.rootFile } },
      );
      assert.equal(c.code, 0, c.stdout + c.stderr);
      const certbotSerial = await verifies(join(base, "c", "live", "certbot.test", "cert.pem"));
      const serials = await inventorySerials(set);
      assert.ok(serials.includes(legoSerial) && serials.includes(certbotSerial));
    });

    const createToken = async (fields: Record<string, unknown>): Promise<string> => {
      const res = await httpsRequest(`${set.url}/v1/tokens`, set.rootPem, {
        method: "POST",
        token: set.adminToken,
        body: { dns: ["*.test"], rate: "10000/1m", ...fields },
      });
      assert.equal(res.status, 201, res.body.toString());
      return res.json<{ token: string }>().token;
    };
    const csrs = (n: number) =>
      Array.from({ length: n }, (_, i) => makeCsr({ san: [`DNS:c${i}.test`] }).csrPem);

    test("/v1/sign from 20 parallel clients, 60 requests on a token of 50 uses: 50 certificates, serials unique, no use left", async () => {
      const token = await createToken({ name: "burst", uses: 50 });
      const pool = csrs(20);
      const start = await sessions();
      // 20 hosts, each with an address of its own: the refusals of a used-up token count as
      // failed authentications, which the replicas count per client address together
      const results = await Promise.all(
        pool.map(async (csr, host) => {
          const out: HttpResult[] = [];
          for (let i = 0; i < 3; i++) {
            const r = await sign(set.url, set.rootPem, token, csr, `127.0.1.${host + 1}`);
            assert.ok(r, "a request failed to connect with both replicas up");
            out.push(r);
          }
          return out;
        }),
      );
      const all = results.flat();
      const issued = all
        .filter((r) => r.status === 201)
        .map((r) => r.json<{ serial: string }>().serial.toLowerCase());
      const refused = all.filter((r) => r.status !== 201);
      assert.equal(issued.length, 50, JSON.stringify(refused.map((r) => r.status)));
      assert.ok(
        refused.every((r) => r.status === 401),
        JSON.stringify(refused.map((r) => r.body.toString())),
      );
      assert.equal(new Set(issued).size, 50, "a serial was issued twice");
      const d = delta(start, await sessions());
      assert.ok(
        Object.values(d).every((n) => n >= 20),
        `the replicas did not share the load: ${JSON.stringify(d)}`,
      );
      const inventory = new Set(await inventorySerials(set));
      assert.ok(
        issued.every((s) => inventory.has(s)),
        "an issued certificate is missing from the inventory",
      );
      assert.equal(await tokenUsesLeft(set, "burst"), 0);
    });

    test("a token revoked while both replicas have it verified: the next request to each is refused", async () => {
      const token = await createToken({ name: "to-revoke" });
      const [csr = ""] = csrs(1);
      // each replica checks the secret once and remembers it (tokens/verifier.ts)
      for (const r of set.replicas)
        assert.equal((await sign(r.url, set.rootPem, token, csr))?.status, 201, r.name);
      const revoke = await set.cli(["token", "revoke", "to-revoke"]);
      assert.equal(revoke.code, 0, revoke.stderr);
      for (const r of [...set.replicas].reverse()) {
        const res = await sign(r.url, set.rootPem, token, csr);
        assert.equal(res?.status, 401, `${r.name}: ${res?.body.toString()}`);
        assert.match(res?.body.toString() ?? "", /revoked/);
      }
    });

    /** Bad-token requests from `from` through HAProxy until one is refused with 429; their count. */
    async function failUntilLimited(from: string, max: number): Promise<number> {
      for (let n = 1; n <= max; n++) {
        const r = await signFrom(set.url, set.rootPem, from, "cy_wrong", "");
        if (r.status === 429) return n;
        assert.equal(r.status, 401, r.body.toString());
      }
      return max + 1;
    }

    test("behind HAProxy each client has its own failed-authentication limit (PROXY protocol): one client's bad token does not lock out another", async () => {
      const token = await createToken({ name: "innocent" });
      // 10 failures a minute per address (FAILED_AUTH_LIMIT), counted in the database
      const n = await failUntilLimited("127.0.0.2", 25);
      assert.ok(n <= 25, "a client sending bad tokens was never limited");
      const [csr = ""] = csrs(1);
      for (let i = 0; i < 2; i++) {
        const r = await signFrom(set.url, set.rootPem, "127.0.0.3", token, csr);
        assert.equal(r.status, 201, `another client through the same balancer: ${r.body.toString()}`);
      }
    });

    test("the failed-authentication limit holds across replicas: a client's 11th failure in a minute is refused, whichever replica takes it", async () => {
      const n = await failUntilLimited("127.0.0.4", 25);
      assert.equal(n, 11, `first 429 at request ${n}: each replica counts failures on its own`);
    });

    test("kill -9 of one replica in a sign burst: the clients finish through the other, every certificate is in the inventory, every use counted once", async (t) => {
      const token = await createToken({ name: "kill-burst", uses: 1000 });
      const pool = csrs(20);
      const before = new Set(await inventorySerials(set));
      const [victim] = set.replicas;
      assert.ok(victim);
      let done = 0;
      let lost = 0;
      let killed: Promise<void> | null = null;
      const received = await Promise.all(
        pool.map(async (csr, host) => {
          const got: string[] = [];
          // each client wants 5 certificates and retries a request whose connection died
          for (let attempts = 0; got.length < 5; attempts++) {
            assert.ok(attempts < 30, "a client did not finish");
            const r = await sign(set.url, set.rootPem, token, csr, `127.0.2.${host + 1}`);
            if (r === null) {
              lost++;
              continue;
            }
            assert.equal(r.status, 201, r.body.toString());
            got.push(r.json<{ serial: string }>().serial.toLowerCase());
            if (++done === 30) killed = victim.kill9();
          }
          return got;
        }),
      );
      await killed;
      assert.ok(killed, "the burst ended before the kill");
      const issued = received.flat();
      assert.equal(issued.length, 100);
      assert.equal(new Set(issued).size, 100, "a serial was issued twice");
      const added = (await inventorySerials(set)).filter((s) => !before.has(s));
      const inventory = new Set(added);
      assert.ok(
        issued.every((s) => inventory.has(s)),
        "a certificate a client received is missing from the inventory",
      );
      // a request cut by the kill may have been issued without its answer arriving: at most one each
      assert.ok(
        added.length - issued.length <= lost,
        `${added.length} issued, ${issued.length} received, ${lost} cut`,
      );
      assert.equal(await tokenUsesLeft(set, "kill-burst"), 1000 - added.length);
      t.diagnostic(
        `${issued.length} received, ${added.length} in the inventory, ${lost} requests cut by the kill`,
      );
      await victim.restart();
      await set.lb.waitUp();
    });

    test("kill -9 of the replica lego is talking to, between two of its requests: lego finishes through the other", async () => {
      const [kid, hmac] = await eab("lego-kill");
      const gate = writeGatedExecProvider(dir, cts.mgmt);
      const path = join(dir, "lego-kill");
      const start = await sessions();
      const run = sh(
        "lego",
        [
          ...["--server", `${set.url}/acme/directory`, "--eab", "--kid", kid, "--hmac", hmac],
          ...["--email", "e@x.test", "--accept-tos", "--domains", "kill.test"],
          ...["--dns", "exec", "--dns.resolvers", cts.dns, "--dns.disable-cp", "--path", path, "run"],
        ],
        {
          env: {
            LEGO_CA_CERTIFICATES: set.rootFile,
            EXEC_PATH: gate.script,
            EXEC_PROPAGATION_TIMEOUT: "20",
            EXEC_POLLING_INTERVAL: "1",
          },
        },
      );
      // lego has its account and order, and waits on its DNS provider: its one connection is idle
      await until("lego to present its dns-01 record", async () => gate.presented());
      const stats = await set.lb.stats();
      const holder = set.replicas.find((r) => (stats[r.name]?.current ?? 0) > 0);
      assert.ok(holder, `lego holds no connection: ${JSON.stringify(stats)}`);
      await holder.kill9();
      await gate.release();
      const r = await run;
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const d = delta(start, await sessions());
      const survivor = set.replicas.find((x) => x !== holder);
      assert.ok(
        survivor && (d[survivor.name] ?? 0) > 0,
        `lego never reached the other replica: ${JSON.stringify(d)}`,
      );
      const serial = await verifies(join(path, "certificates", "kill.test.crt"));
      assert.ok((await inventorySerials(set)).includes(serial));
      await holder.restart();
      await set.lb.waitUp();
    });
  });
}

/** POST /v1/sign through `url` from the local address `from` (127.0.0.0/8 is all this host's). */
function signFrom(
  url: string,
  rootPem: string,
  from: string,
  token: string,
  csrPem: string,
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/v1/sign`,
      {
        method: "POST",
        ca: rootPem,
        localAddress: from,
        agent: false,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: <T>() => JSON.parse(body.toString()) as T,
          });
        });
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify({ csr: csrPem }));
  });
}

/** POST /v1/sign through `url` (from `from`); a connection error (a replica killed under it) is a null. */
async function sign(
  url: string,
  rootPem: string,
  token: string,
  csrPem: string,
  from = "127.0.0.1",
): Promise<HttpResult | null> {
  return signFrom(url, rootPem, from, token, csrPem).catch(() => null);
}
