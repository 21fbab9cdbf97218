import assert from "node:assert/strict";
import { createPublicKey, X509Certificate } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { exportJWK, FlattenedSign, generateKeyPair, importPKCS8, type JWK } from "jose";
import { certIdOf } from "../../shared/acme/cert-id.js";
import { decodePem } from "../../shared/x509/pem.js";
import { type AcmeBed, startAcmeBed } from "../helpers/acme-bed.js";
import { TestAcmeClient } from "../helpers/acme-client.js";
import { httpsRequest, type TestCa } from "../helpers/ca.js";
import { makeCsr } from "../helpers/openssl.js";

const ERR = "urn:ietf:params:acme:error:";
const LIFETIME_MS = 600_000;

/** ACME account management, authorization deactivation, revocation by key, ARI and expiry. */
describe("ACME server: accounts, deactivation, revocation by key, renewalInfo, expiry", () => {
  let bed: AcmeBed;
  let ca: TestCa;
  let directoryUrl: string;

  const answer = (token: string, keyAuthorization: string) =>
    bed.responder.answers.set(token, keyAuthorization);
  const newClient = () => bed.newClient();

  function csrFor(san: string[]) {
    const csr = makeCsr({ san });
    const der = decodePem(csr.csrPem)[0]?.der;
    assert.ok(der);
    return { der, keyPem: csr.keyPem };
  }

  before(async () => {
    bed = await startAcmeBed({
      eab: { name: "more", dns: ["*.lan"], ip: ["127.0.0.1"] },
      limits: { orderLifetimeMs: LIFETIME_MS, authzLifetimeMs: LIFETIME_MS },
    });
    ca = bed.ca;
    directoryUrl = `${ca.url}/acme/directory`;
  });
  after(() => bed.close());

  test("account update: contact replaced, a bad contact is invalidContact (7.3.2)", async () => {
    const client = await newClient();
    const upd = await client.post(client.accountUrl, { contact: ["mailto:new@x.test"] });
    assert.equal(upd.status, 200, upd.body.toString());
    assert.deepEqual(upd.json().contact, ["mailto:new@x.test"]);
    assert.equal(upd.json().status, "valid");
    const read = await client.post(client.accountUrl, null);
    assert.deepEqual(read.json().contact, ["mailto:new@x.test"]);
    // 6.7: a scheme this server does not support is unsupportedContact, a bad mailto: invalidContact
    const tel = await client.post(client.accountUrl, { contact: ["tel:+15555550100"] });
    assert.equal(tel.status, 400);
    assert.equal(tel.json().type, `${ERR}unsupportedContact`);
    const bad = await client.post(client.accountUrl, { contact: ["mailto:nobody"] });
    assert.equal(bad.status, 400);
    assert.equal(bad.json().type, `${ERR}invalidContact`);
    assert.deepEqual((await client.post(client.accountUrl, null)).json().contact, ["mailto:new@x.test"]);
    // 7.3.2: orders, termsOfServiceAgreed, a status other than "deactivated" and unknown fields
    // are ignored: the update changes nothing and succeeds
    for (const ignored of [{}, { orders: "x", termsOfServiceAgreed: true, status: "valid", foo: 1 }]) {
      const res = await client.post(client.accountUrl, ignored);
      assert.equal(res.status, 200, `${JSON.stringify(ignored)}: ${res.body.toString()}`);
      assert.deepEqual(res.json().contact, ["mailto:new@x.test"]);
      assert.equal(res.json().status, "valid");
    }
    // another account may not update this one
    const other = await newClient();
    const foreign = await other.send(
      client.accountUrl,
      await other.sign(client.accountUrl, { contact: ["mailto:evil@x.test"] }),
    );
    assert.equal(foreign.status, 403);
    assert.equal(foreign.json().type, `${ERR}unauthorized`);
  });

  test("account deactivation (7.3.6): later requests by the account are unauthorized", async () => {
    const client = await newClient();
    const order = await client.post(client.url("newOrder"), {
      identifiers: [{ type: "dns", value: "d.lan" }],
    });
    assert.equal(order.status, 201);
    const orderUrl = String(order.headers.location);
    const deact = await client.post(client.accountUrl, { status: "deactivated" });
    assert.equal(deact.status, 200, deact.body.toString());
    assert.equal(deact.json().status, "deactivated");
    for (const [url, payload] of [
      [client.accountUrl, null],
      [client.accountUrl, { status: "deactivated" }],
      [client.url("newOrder"), { identifiers: [{ type: "dns", value: "d.lan" }] }],
      [orderUrl, null],
    ] as const) {
      const res = await client.post(url, payload);
      assert.equal(res.status, 403, `${url}: ${res.body.toString()}`);
      assert.equal(res.json().type, `${ERR}unauthorized`);
    }
  });

  test("keyChange (7.3.5): the new key signs for the account, the old one no longer does", async () => {
    const client = await newClient();
    const { privateKey: newKey, publicKey } = await generateKeyPair("ES256");
    const newJwk = await exportJWK(publicKey);

    // refused: the inner url differs from the outer one; oldKey is not the account's key
    const badUrl = await client.keyChange(newKey, newJwk, { innerUrl: client.url("newOrder") });
    assert.equal(badUrl.status, 400);
    assert.equal(badUrl.json().type, `${ERR}malformed`);
    const wrongOld = await client.keyChange(newKey, newJwk, { oldJwk: newJwk });
    assert.equal(wrongOld.status, 403);
    assert.equal(wrongOld.json().type, `${ERR}unauthorized`);

    // refused: the new key is another account's (409 with that account's URL)
    const other = await newClient();
    const taken = await client.keyChange(other.key, other.jwk);
    assert.equal(taken.status, 409, taken.body.toString());
    assert.equal(taken.json().status, 409, "the problem's status is the response's");
    assert.equal(taken.headers.location, other.accountUrl);

    // refused: an inner JWS with a MAC (6.2 holds inside too: a shared secret is no account key),
    // and inner JWSs that do not parse, as 400s rather than server errors
    const secret = new TextEncoder().encode("0123456789abcdef0123456789abcdef");
    const mac = await new FlattenedSign(
      new TextEncoder().encode(JSON.stringify({ account: client.accountUrl, oldKey: client.jwk })),
    )
      // jose's types keep secrets out of a "jwk" header: this is the request a client must not send
      .setProtectedHeader({
        alg: "HS256",
        jwk: { kty: "oct", k: Buffer.from(secret).toString("base64url") },
        url: client.url("keyChange"),
      } as unknown as Parameters<FlattenedSign["setProtectedHeader"]>[0])
      .sign(secret);
    const hmacKey = await client.post(client.url("keyChange"), mac);
    assert.equal(hmacKey.status, 400, hmacKey.body.toString());
    assert.equal(hmacKey.json().type, `${ERR}badSignatureAlgorithm`);
    const notJson = await new FlattenedSign(new TextEncoder().encode("not json"))
      .setProtectedHeader({ alg: "ES256", jwk: newJwk, url: client.url("keyChange") })
      .sign(newKey);
    for (const inner of [notJson, { protected: "!!!", payload: "e30", signature: "AA" }]) {
      const res = await client.post(client.url("keyChange"), inner);
      assert.equal(res.status, 400, res.body.toString());
      assert.equal(res.json().type, `${ERR}malformed`);
    }

    const ok = await client.keyChange(newKey, newJwk);
    assert.equal(ok.status, 200, ok.body.toString());
    assert.equal(ok.headers.location, client.accountUrl);

    const withNew = await client.post(client.accountUrl, null, { key: newKey });
    assert.equal(withNew.status, 200, withNew.body.toString());
    const withOld = await client.post(client.accountUrl, null);
    assert.equal(withOld.status, 400);
    assert.equal(withOld.json().type, `${ERR}malformed`);
    // looking the account up by key: the new key finds it, the old one finds nothing
    const byNew = await client.post(
      client.url("newAccount"),
      { onlyReturnExisting: true },
      { useJwk: true, key: newKey, jwk: newJwk },
    );
    assert.equal(byNew.status, 200);
    assert.equal(byNew.headers.location, client.accountUrl);
    const byOld = await client.post(client.url("newAccount"), { onlyReturnExisting: true }, { useJwk: true });
    assert.equal(byOld.json().type, `${ERR}accountDoesNotExist`);
  });

  test("authorization deactivation (7.5.2): the authz is deactivated, its order invalid", async () => {
    const client = await newClient();
    const order = await client.post(client.url("newOrder"), {
      identifiers: [{ type: "ip", value: "127.0.0.1" }],
    });
    assert.equal(order.status, 201);
    const orderUrl = String(order.headers.location);
    const authzUrl = String(order.json<{ authorizations: string[] }>().authorizations[0]);
    const res = await client.post(authzUrl, { status: "deactivated" });
    assert.equal(res.status, 200, res.body.toString());
    const a = res.json<{ status: string; challenges: { type: string; url: string; token: string }[] }>();
    assert.equal(a.status, "deactivated");
    assert.equal((await client.post(authzUrl, null)).json().status, "deactivated");
    assert.equal((await client.post(orderUrl, null)).json().status, "invalid");
    // a deactivated authorization cannot be deactivated again, nor validated
    const again = await client.post(authzUrl, { status: "deactivated" });
    assert.equal(again.status, 400);
    assert.equal(again.json().type, `${ERR}malformed`);
    const http01 = a.challenges.find((c) => c.type === "http-01");
    assert.ok(http01);
    answer(http01.token, "unused");
    const ch = await client.post(http01.url, {});
    assert.equal(ch.status, 200);
    assert.equal(ch.json().status, "pending", "validation did not start");
    assert.equal((await client.post(authzUrl, null)).json().status, "deactivated");
    // another account cannot deactivate it
    const other = await newClient();
    const foreign = await other.post(authzUrl, { status: "deactivated" });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.json().type, `${ERR}unauthorized`);
  });

  test("a wrong http-01 answer: the challenge and authz are invalid, the authz lists only that challenge (7.1.4)", async () => {
    const client = await newClient();
    const order = await client.post(client.url("newOrder"), {
      identifiers: [{ type: "ip", value: "127.0.0.1" }],
    });
    assert.equal(order.status, 201);
    const authzUrl = String(order.json<{ authorizations: string[] }>().authorizations[0]);
    type Authz = {
      status: string;
      challenges: { type: string; url: string; token: string; status: string }[];
    };
    const pending = (await client.post(authzUrl, null)).json<Authz>();
    assert.deepEqual(pending.challenges.map((c) => c.type).sort(), ["http-01", "tls-alpn-01"]);
    const http01 = pending.challenges.find((c) => c.type === "http-01");
    assert.ok(http01);
    answer(http01.token, `${http01.token}.not-the-thumbprint`);
    const ch = await client.post(http01.url, {});
    assert.equal(ch.json().status, "invalid", ch.body.toString());
    assert.equal(ch.json<{ error: { type: string } }>().error.type, `${ERR}incorrectResponse`);
    const failed = (await client.post(authzUrl, null)).json<Authz>();
    assert.equal(failed.status, "invalid");
    assert.deepEqual(
      failed.challenges.map((c) => [c.type, c.status]),
      [["http-01", "invalid"]],
    );
    assert.equal((await client.post(String(order.headers.location), null)).json().status, "invalid");
  });

  test("the account's orders list (7.1.2.1) names its orders, and only its own", async () => {
    const client = await newClient();
    const empty = await client.post(`${client.accountUrl}/orders`, null);
    assert.equal(empty.status, 200, empty.body.toString());
    assert.deepEqual(empty.json<{ orders: string[] }>().orders, []);
    const { orderUrl } = await client.issue(
      { type: "ip", value: "127.0.0.1" },
      csrFor(["IP:127.0.0.1"]).der,
      answer,
    );
    const listed = await client.post(`${client.accountUrl}/orders`, null);
    assert.deepEqual(listed.json<{ orders: string[] }>().orders, [orderUrl]);
    const other = await newClient();
    const foreign = await other.post(`${client.accountUrl}/orders`, null);
    assert.equal(foreign.status, 403);
  });

  test("revokeCert signed with the certificate's own key (7.6, jwk)", async () => {
    const client = await newClient();
    const csr = csrFor(["IP:127.0.0.1"]);
    const { leafDer } = await client.issue({ type: "ip", value: "127.0.0.1" }, csr.der, answer);
    const certificate = Buffer.from(leafDer).toString("base64url");
    const certKey = await importPKCS8(csr.keyPem, "ES256");
    const certJwk = (await exportJWK(createPublicKey(csr.keyPem))) as JWK;

    // a stranger's key, with jwk, is refused
    const stranger = await TestAcmeClient.create(directoryUrl, ca.rootPem);
    const byStranger = await stranger.post(stranger.url("revokeCert"), { certificate }, { useJwk: true });
    assert.equal(byStranger.status, 403, byStranger.body.toString());
    assert.equal(byStranger.json().type, `${ERR}unauthorized`);
    // a disallowed reason code
    const badReason = await stranger.post(
      stranger.url("revokeCert"),
      { certificate, reason: 7 },
      { useJwk: true, key: certKey, jwk: certJwk },
    );
    assert.equal(badReason.status, 400);
    assert.equal(badReason.json().type, `${ERR}badRevocationReason`);

    const rev = await stranger.post(
      stranger.url("revokeCert"),
      { certificate, reason: 1 },
      { useJwk: true, key: certKey, jwk: certJwk },
    );
    assert.equal(rev.status, 200, rev.body.toString());
    const again = await stranger.post(
      stranger.url("revokeCert"),
      { certificate },
      { useJwk: true, key: certKey, jwk: certJwk },
    );
    assert.equal(again.json().type, `${ERR}alreadyRevoked`);
  });

  test("GET renewalInfo/{certID} (RFC 9773 4): a window inside the validity; now once revoked", async () => {
    const client = await newClient();
    const csr = csrFor(["IP:127.0.0.1"]);
    const { leafDer } = await client.issue({ type: "ip", value: "127.0.0.1" }, csr.der, answer);
    const x = new X509Certificate(leafDer);
    const notBefore = Date.parse(x.validFrom);
    const notAfter = Date.parse(x.validTo);
    const ariUrl = `${client.url("renewalInfo")}/${certIdOf(leafDer)}`;

    const res = await httpsRequest(ariUrl, ca.rootPem);
    assert.equal(res.status, 200, res.body.toString());
    assert.match(String(res.headers["content-type"]), /^application\/json/);
    assert.ok(Number(res.headers["retry-after"]) > 0);
    const w = res.json<{ suggestedWindow: { start: string; end: string } }>().suggestedWindow;
    const start = Date.parse(w.start);
    const end = Date.parse(w.end);
    assert.ok(
      notBefore <= start && start < end && end <= notAfter,
      JSON.stringify({ w, notBefore, notAfter }),
    );

    // unknown serial, another issuer's key id, garbage: 404
    const [aki] = certIdOf(leafDer).split(".");
    for (const id of [`${aki}.AQIDBA`, `AAAA.${certIdOf(leafDer).split(".")[1]}`, "garbage"]) {
      const nf = await httpsRequest(`${client.url("renewalInfo")}/${id}`, ca.rootPem);
      assert.equal(nf.status, 404, id);
    }

    // revoked: renew now (9773 4.2)
    const rev = await client.post(client.url("revokeCert"), {
      certificate: Buffer.from(leafDer).toString("base64url"),
    });
    assert.equal(rev.status, 200);
    const after = await httpsRequest(ariUrl, ca.rootPem);
    const w2 = after.json<{ suggestedWindow: { start: string; end: string } }>().suggestedWindow;
    assert.ok(Date.parse(w2.start) < Date.parse(w2.end));
    assert.ok(Date.parse(w2.end) <= Date.now() + bed.offsetMs + 1000);
  });

  test("order and authorization expiry (7.1.6): expired authz, invalid order, no finalize", async () => {
    const client = await newClient();
    const order = await client.post(client.url("newOrder"), {
      identifiers: [{ type: "ip", value: "127.0.0.1" }],
    });
    assert.equal(order.status, 201);
    const orderUrl = String(order.headers.location);
    const o = order.json<{ expires: string; authorizations: string[]; finalize: string }>();
    const created = Date.now();
    assert.ok(Math.abs(Date.parse(o.expires) - (created + LIFETIME_MS)) < 60_000, o.expires);
    const authzUrl = String(o.authorizations[0]);
    const a = (await client.post(authzUrl, null)).json<{
      challenges: { type: string; url: string; token: string }[];
    }>();
    const http01 = a.challenges.find((c) => c.type === "http-01");
    assert.ok(http01);

    bed.offsetMs = LIFETIME_MS + 1000;
    try {
      assert.equal((await client.post(authzUrl, null)).json().status, "expired");
      assert.equal((await client.post(orderUrl, null)).json().status, "invalid");
      const deact = await client.post(authzUrl, { status: "deactivated" });
      assert.equal(deact.status, 400);
      assert.equal(deact.json().type, `${ERR}malformed`);
      answer(http01.token, "unused");
      const ch = await client.post(http01.url, {});
      assert.equal(ch.json().status, "pending", "an expired authorization is not validated");
      const fin = await client.post(o.finalize, { csr: "AAAA" });
      assert.equal(fin.status, 403);
      assert.equal(fin.json().type, `${ERR}orderNotReady`);
    } finally {
      bed.offsetMs = 0;
    }
  });
});
