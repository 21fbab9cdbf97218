import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { calculateJwkThumbprint } from "jose";
import pino from "pino";
import { eabCreate } from "../../services/ca/cli/eab-cmds.js";
import { caPaths } from "../../services/ca/keys/ca.js";
import { type RunningServer, startServer } from "../../services/ca/server.js";
import { decodePem } from "../../shared/x509/pem.js";
import { TestAcmeClient } from "../helpers/acme-client.js";
import { httpsRequest } from "../helpers/ca.js";
import { type Http01Responder, startHttp01Responder } from "../helpers/http01.js";
import { makeCsr, opensslVerify } from "../helpers/openssl.js";
import { dataOpts, dbLocationFor, initData, openTestStore } from "../helpers/test-db.js";

/** The ACME server over real HTTPS, with http-01 answered by a real HTTP server on loopback. */
describe("ACME server", () => {
  let dir: string;
  let server: RunningServer;
  let rootPem: string;
  let directoryUrl: string;
  let responder: Http01Responder;
  let kid: string;
  let hmac: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "certyard-acme-"));
    responder = await startHttp01Responder();
    const data = join(dir, "data");
    await initData({ data, name: "ACME Test Root", keyType: "ec-p256" });
    [kid, hmac] = (
      await eabCreate({ ...dataOpts(data), name: "lab", dns: ["*.lan"], ip: ["127.0.0.1"], accounts: "10" })
    ).split(" ") as [string, string];
    const paths = caPaths(data, dbLocationFor(data));
    server = await startServer({
      paths,
      host: "127.0.0.1",
      port: 0,
      url: "https://127.0.0.1:0",
      servingNames: { dns: ["localhost"], ips: ["127.0.0.1"] },
      log: pino({ level: "silent" }),
      // the responder is on loopback, which validation refuses unless allowed
      acme: { httpPort: responder.port, limits: { rateLimit: 5 }, allow: ["127.0.0.0/8"] },
    });
    rootPem = readFileSync(paths.rootCert, "utf8");
    directoryUrl = `https://127.0.0.1:${server.port}/acme/directory`;
  });
  after(async () => {
    await server.close();
    responder.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("directory requires EAB and lists every resource; nonces on every response", async () => {
    const res = await httpsRequest(directoryUrl, rootPem);
    assert.equal(res.status, 200);
    const d = res.json<Record<string, unknown>>();
    for (const k of ["newNonce", "newAccount", "newOrder", "revokeCert", "keyChange", "renewalInfo"]) {
      assert.match(String(d[k]), /^https:\/\/127\.0\.0\.1:\d+\/acme\//);
    }
    assert.deepEqual(d.meta, { externalAccountRequired: true });
    assert.ok(res.headers["replay-nonce"]);
    const head = await httpsRequest(String(d.newNonce), rootPem, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.ok(head.headers["replay-nonce"]);
  });

  test("account without EAB is refused; with a wrong HMAC too", async () => {
    const client = await TestAcmeClient.create(directoryUrl, rootPem);
    const none = await client.post(
      client.url("newAccount"),
      { termsOfServiceAgreed: true },
      { useJwk: true },
    );
    assert.equal(none.status, 400);
    assert.equal(none.json().type, "urn:ietf:params:acme:error:externalAccountRequired");
    assert.equal(none.headers["content-type"], "application/problem+json");
    const wrong = await client.register(kid, Buffer.alloc(32, 1).toString("base64url"));
    assert.equal(wrong.status, 403);
    assert.equal(wrong.json().type, "urn:ietf:params:acme:error:unauthorized");
  });

  test("account + EAB, order for 127.0.0.1, http-01, finalize, download: the chain verifies", async () => {
    const client = await TestAcmeClient.create(directoryUrl, rootPem);
    const acct = await client.register(kid, hmac);
    assert.equal(acct.status, 201, acct.body.toString());
    assert.equal(acct.json().status, "valid");
    const again = await client.post(client.url("newAccount"), { onlyReturnExisting: true }, { useJwk: true });
    assert.equal(again.status, 200);
    assert.equal(again.headers.location, client.accountUrl);

    const order = await client.post(client.url("newOrder"), {
      identifiers: [{ type: "ip", value: "127.0.0.1" }],
    });
    assert.equal(order.status, 201, order.body.toString());
    const orderUrl = String(order.headers.location);
    const o = order.json<{ status: string; authorizations: string[]; finalize: string }>();
    assert.equal(o.status, "pending");
    const authz = await client.post(String(o.authorizations[0]), null);
    const a = authz.json<{ status: string; challenges: { type: string; url: string; token: string }[] }>();
    assert.equal(a.status, "pending");
    assert.deepEqual(a.challenges.map((c) => c.type).sort(), ["http-01", "tls-alpn-01"]);
    const http01 = a.challenges.find((c) => c.type === "http-01");
    assert.ok(http01);
    responder.answers.set(http01.token, `${http01.token}.${await calculateJwkThumbprint(client.jwk)}`);
    const started = Date.now();
    const ch = await client.post(http01.url, {});
    assert.equal(ch.status, 200, ch.body.toString());
    assert.equal(ch.json().status, "valid", "validated before the response");
    assert.ok(Date.now() - started < 3000);
    const ready = await client.post(orderUrl, null);
    assert.equal(ready.json().status, "ready");

    const csr = makeCsr({ san: ["IP:127.0.0.1"] });
    const der = decodePem(csr.csrPem)[0]?.der;
    assert.ok(der);
    const fin = await client.post(o.finalize, { csr: Buffer.from(der).toString("base64url") });
    assert.equal(fin.status, 200, fin.body.toString());
    const done = fin.json<{ status: string; certificate: string }>();
    assert.equal(done.status, "valid");
    const cert = await client.post(done.certificate, null);
    assert.equal(cert.status, 200);
    assert.equal(cert.headers["content-type"], "application/pem-certificate-chain");
    const pems =
      cert.body.toString().match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g) ?? [];
    assert.equal(pems.length, 2);
    const v = opensslVerify(String(pems[0]), String(pems[1]), rootPem);
    assert.ok(v.ok, v.output);

    // the same inventory as /v1/sign
    const store = await openTestStore(join(dir, "data"));
    try {
      const serial = done.certificate.split("/").pop() ?? "";
      assert.deepEqual((await store.certificates.bySerial(serial))?.ipAddresses, ["127.0.0.1"]);
    } finally {
      await store.close();
    }

    // revocation by the ordering account
    const certDer = decodePem(String(pems[0]))[0]?.der;
    assert.ok(certDer);
    const rev = await client.post(client.url("revokeCert"), {
      certificate: Buffer.from(certDer).toString("base64url"),
    });
    assert.equal(rev.status, 200, rev.body.toString());
    const rev2 = await client.post(client.url("revokeCert"), {
      certificate: Buffer.from(certDer).toString("base64url"),
    });
    assert.equal(rev2.json().type, "urn:ietf:params:acme:error:alreadyRevoked");
  });

  test("a name outside the EAB policy is rejectedIdentifier (403); a wildcard too", async () => {
    const client = await TestAcmeClient.create(directoryUrl, rootPem);
    assert.equal((await client.register(kid, hmac)).status, 201);
    for (const value of ["evil.example", "*.lan", "10.1.2.3"]) {
      const type = value.startsWith("10.") ? "ip" : "dns";
      const res = await client.post(client.url("newOrder"), { identifiers: [{ type, value }] });
      assert.equal(res.status, 403, value);
      assert.equal(res.json().type, "urn:ietf:params:acme:error:rejectedIdentifier");
    }
  });

  test("a replayed nonce is badNonce, and the error carries a fresh nonce", async () => {
    const client = await TestAcmeClient.create(directoryUrl, rootPem);
    const body = await client.sign(client.url("newAccount"), { onlyReturnExisting: true }, { useJwk: true });
    const first = await client.send(client.url("newAccount"), body);
    assert.equal(first.json().type, "urn:ietf:params:acme:error:accountDoesNotExist");
    const replay = await client.send(client.url("newAccount"), body);
    assert.equal(replay.status, 400);
    assert.equal(replay.json().type, "urn:ietf:params:acme:error:badNonce");
    assert.ok(replay.headers["replay-nonce"]);
  });

  test("wrong methods, media types and algorithms: 405 with Allow, 415, 404 and badSignatureAlgorithm as ACME problems", async () => {
    const client = await TestAcmeClient.create(directoryUrl, rootPem);
    assert.equal((await client.register(kid, hmac)).status, 201);
    const problem = (res: { headers: Record<string, unknown>; json<T>(): T }) => {
      assert.equal(res.headers["content-type"], "application/problem+json");
      assert.ok(res.headers["replay-nonce"], "a nonce on every response (6.5)");
      return res.json<{ type: string; status: number; detail: string }>();
    };
    // 6.3: a GET on a resource read by POST-as-GET is 405 malformed
    for (const url of [client.accountUrl, client.url("newOrder"), client.url("keyChange")]) {
      const res = await httpsRequest(url, rootPem);
      assert.equal(res.status, 405, url);
      assert.equal(res.headers.allow, "POST");
      const p = problem(res);
      assert.equal(p.type, "urn:ietf:params:acme:error:malformed");
      assert.equal(p.status, 405);
      assert.match(p.detail, /POST-as-GET/);
    }
    const postNonce = await httpsRequest(client.url("newNonce"), rootPem, { method: "POST", raw: "{}" });
    assert.equal(postNonce.status, 405);
    assert.equal(postNonce.headers.allow, "GET, HEAD");
    const nowhere = await httpsRequest(directoryUrl.replace("directory", "no-such-thing"), rootPem);
    assert.equal(nowhere.status, 404);
    assert.equal(problem(nowhere).type, "urn:ietf:params:acme:error:malformed");
    // 6.2: another media type is 415
    const plain = await httpsRequest(client.accountUrl, rootPem, {
      method: "POST",
      raw: await client.sign(client.accountUrl, null),
      headers: { "content-type": "application/json" },
    });
    assert.equal(plain.status, 415);
    assert.equal(problem(plain).status, 415);
    // 6.2: "none", whose signature is empty (RFC 7518 3.6), is refused as an algorithm
    const nonce = await client.freshNonce();
    const none = {
      protected: Buffer.from(
        JSON.stringify({ alg: "none", nonce, url: client.accountUrl, kid: client.accountUrl }),
      ).toString("base64url"),
      payload: "",
      signature: "",
    };
    const unsigned = await client.send(client.accountUrl, JSON.stringify(none));
    assert.equal(unsigned.status, 400);
    assert.equal(problem(unsigned).type, "urn:ietf:params:acme:error:badSignatureAlgorithm");
  });

  test("the JWS url must be the request URL; finalize before validation is orderNotReady", async () => {
    const client = await TestAcmeClient.create(directoryUrl, rootPem);
    assert.equal((await client.register(kid, hmac)).status, 201);
    const wrong = await client.send(client.url("newOrder"), await client.sign(client.url("revokeCert"), {}));
    assert.equal(wrong.json().type, "urn:ietf:params:acme:error:unauthorized");
    const order = await client.post(client.url("newOrder"), {
      identifiers: [{ type: "dns", value: "reg.lan" }],
    });
    assert.equal(order.status, 201);
    const fin = await client.post(order.json<{ finalize: string }>().finalize, { csr: "AAAA" });
    assert.equal(fin.status, 403);
    assert.equal(fin.json().type, "urn:ietf:params:acme:error:orderNotReady");
  });

  test("per-account rate limit: 429 rateLimited with Retry-After", async () => {
    const client = await TestAcmeClient.create(directoryUrl, rootPem);
    assert.equal((await client.register(kid, hmac)).status, 201);
    const statuses: number[] = [];
    let last = null;
    for (let i = 0; i < 6; i++) {
      last = await client.post(client.url("newOrder"), { identifiers: [{ type: "dns", value: "a.lan" }] });
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [201, 201, 201, 201, 201, 429]);
    assert.equal(last?.json().type, "urn:ietf:params:acme:error:rateLimited");
    assert.ok(Number(last?.headers["retry-after"]) > 0);
  });
});
