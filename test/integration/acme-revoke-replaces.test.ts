import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { calculateJwkThumbprint } from "jose";
import { revokeSerial } from "../../services/ca/cli/admin-cmds.js";
import { certIdOf } from "../../shared/acme/cert-id.js";
import { decodePem } from "../../shared/x509/pem.js";
import { type AcmeBed, startAcmeBed } from "../helpers/acme-bed.js";
import type { TestAcmeClient } from "../helpers/acme-client.js";
import type { TestCa } from "../helpers/ca.js";
import type { Http01Responder } from "../helpers/http01.js";
import { makeCsr, opensslCrlText } from "../helpers/openssl.js";

const ERR = "urn:ietf:params:acme:error:";
const LIFETIME_MS = 600_000;
type Id = { type: string; value: string };
const LOCALHOST: Id = { type: "dns", value: "localhost" };
const LOOPBACK: Id = { type: "ip", value: "127.0.0.1" };

/**
 * revokeCert by an account holding authorizations (RFC 8555 7.6), refused reason codes (7.6,
 * RFC 5280 5.3.1), newOrder's `replaces` checks (RFC 9773 5) and names asked for in the CSR's
 * commonName at finalize (RFC 8555 7.4). "localhost" resolves to 127.0.0.1, where the http-01
 * responder listens.
 */
describe("ACME server: revocation by authorizations, reason codes, replaces, CN at finalize", () => {
  let ca: TestCa;
  let bed: AcmeBed;
  let responder: Http01Responder;

  before(async () => {
    bed = await startAcmeBed({
      eab: { name: "rr", dns: ["localhost"], ip: ["127.0.0.1"] },
      limits: { orderLifetimeMs: LIFETIME_MS, authzLifetimeMs: LIFETIME_MS },
    });
    ({ ca, responder } = bed);
  });
  after(() => bed.close());
  const newClient = () => bed.newClient();

  const csrDer = (o: { subject?: string; san?: string[] }) => {
    const der = decodePem(makeCsr(o).csrPem)[0]?.der;
    assert.ok(der);
    return der;
  };

  /** newOrder for `identifiers` and every authorization validated over http-01: the order, ready. */
  async function readyOrder(client: TestAcmeClient, identifiers: Id[]) {
    const order = await client.post(client.url("newOrder"), { identifiers });
    assert.equal(order.status, 201, order.body.toString());
    const o = order.json<{ authorizations: string[]; finalize: string }>();
    const thumb = await calculateJwkThumbprint(client.jwk);
    for (const authzUrl of o.authorizations) {
      const authz = await client.post(authzUrl, null);
      const ch = authz
        .json<{ challenges: { type: string; url: string; token: string }[] }>()
        .challenges.find((c) => c.type === "http-01");
      assert.ok(ch);
      responder.answers.set(ch.token, `${ch.token}.${thumb}`);
      const done = await client.post(ch.url, {});
      assert.equal(done.json().status, "valid", done.body.toString());
    }
    return { orderUrl: String(order.headers.location), finalize: o.finalize, authzs: o.authorizations };
  }

  async function finalize(client: TestAcmeClient, finalizeUrl: string, der: Uint8Array) {
    return client.post(finalizeUrl, { csr: Buffer.from(der).toString("base64url") });
  }

  /** A certificate for `identifiers` issued to `client`: its DER and serial. */
  async function issued(client: TestAcmeClient, identifiers: Id[]) {
    const { finalize: url } = await readyOrder(client, identifiers);
    const san = identifiers.map((i) => `${i.type === "dns" ? "DNS" : "IP"}:${i.value}`);
    const fin = await finalize(client, url, csrDer({ san }));
    assert.equal(fin.status, 200, fin.body.toString());
    const cert = await client.post(fin.json<{ certificate: string }>().certificate, null);
    const pem = cert.body
      .toString()
      .match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/)?.[0];
    assert.ok(pem);
    const x = new X509Certificate(pem);
    return { der: x.raw, serial: x.serialNumber.toLowerCase(), x };
  }

  const revoke = (client: TestAcmeClient, der: Uint8Array, reason?: number) =>
    client.post(client.url("revokeCert"), {
      certificate: Buffer.from(der).toString("base64url"),
      ...(reason === undefined ? {} : { reason }),
    });

  const crlText = async () => opensslCrlText((await ca.request("/crl")).body);

  test("revokeCert (7.6, kid): an account holding authorizations for all identifiers may revoke", async () => {
    const owner = await newClient();
    const cert = await issued(owner, [LOCALHOST, LOOPBACK]);
    const other = await newClient();

    const none = await revoke(other, cert.der);
    assert.equal(none.status, 403, none.body.toString());
    assert.equal(none.json().type, `${ERR}unauthorized`);
    // an authorization for one identifier of the two is not enough
    await readyOrder(other, [LOOPBACK]);
    const half = await revoke(other, cert.der);
    assert.equal(half.status, 403, half.body.toString());
    assert.equal(half.json().type, `${ERR}unauthorized`);
    assert.match(String(half.json().detail), /dns localhost/);
    // an authorization that has expired is not held
    await readyOrder(other, [LOCALHOST]);
    bed.offsetMs = LIFETIME_MS + 1000;
    try {
      const expired = await revoke(other, cert.der);
      assert.equal(expired.status, 403, expired.body.toString());
      assert.equal(expired.json().type, `${ERR}unauthorized`);
    } finally {
      bed.offsetMs = 0;
    }
    assert.doesNotMatch(await crlText(), new RegExp(cert.serial, "i"));

    const ok = await revoke(other, cert.der, 4);
    assert.equal(ok.status, 200, ok.body.toString());
    assert.match(await crlText(), new RegExp(`Serial Number: ${cert.serial}[\\s\\S]+?Superseded`, "i"));
    const again = await revoke(owner, cert.der);
    assert.equal(again.json().type, `${ERR}alreadyRevoked`);
  });

  test("revokeCert refuses removeFromCRL (8), as it does 7 and 11: badRevocationReason", async () => {
    const owner = await newClient();
    const cert = await issued(owner, [LOOPBACK]);
    for (const reason of [7, 8, 11, -1]) {
      const res = await revoke(owner, cert.der, reason);
      assert.equal(res.status, 400, `${reason}: ${res.body.toString()}`);
      assert.equal(res.json().type, `${ERR}badRevocationReason`, String(reason));
    }
    assert.doesNotMatch(await crlText(), new RegExp(cert.serial, "i"), "nothing was revoked");
    const ok = await revoke(owner, cert.der, 1);
    assert.equal(ok.status, 200, ok.body.toString());
  });

  test("the admin paths take no removeFromCRL either: POST /v1/revoke and `revoke --reason`", async () => {
    const owner = await newClient();
    const cert = await issued(owner, [LOOPBACK]);
    for (const reason of ["removeFromCRL", "8", "toString"]) {
      const res = await ca.request("/v1/revoke", {
        body: { serial: cert.serial, reason },
        token: ca.adminToken,
      });
      assert.equal(res.status, 400, `${reason}: ${res.body.toString()}`);
      await assert.rejects(
        () => revokeSerial({ ...ca.data, serial: cert.serial, reason }),
        /unknown revocation reason/,
      );
    }
    assert.doesNotMatch(await crlText(), new RegExp(cert.serial, "i"), "nothing was revoked");
  });

  test("newOrder replaces (RFC 9773 5): alreadyReplaced unless that order is invalid; a shared identifier", async () => {
    const client = await newClient();
    const cert = await issued(client, [LOCALHOST, LOOPBACK]);
    const replaces = certIdOf(cert.der);

    // no identifier in common with the certificate
    const other = await newClient();
    const otherCert = await issued(other, [LOCALHOST]);
    const disjointCert = await issued(client, [LOOPBACK]);
    const disjoint = await client.post(client.url("newOrder"), {
      identifiers: [LOCALHOST],
      replaces: certIdOf(disjointCert.der),
    });
    assert.equal(disjoint.status, 400, disjoint.body.toString());
    assert.equal(disjoint.json().type, `${ERR}malformed`);
    assert.match(String(disjoint.json().detail), /shares no identifier/);
    // another account's certificate is still refused
    const foreign = await client.post(client.url("newOrder"), {
      identifiers: [LOCALHOST],
      replaces: certIdOf(otherCert.der),
    });
    assert.equal(foreign.status, 400, foreign.body.toString());

    // one identifier in common is enough
    const first = await client.post(client.url("newOrder"), { identifiers: [LOOPBACK], replaces });
    assert.equal(first.status, 201, first.body.toString());
    assert.equal(first.json().replaces, replaces);
    const second = await client.post(client.url("newOrder"), {
      identifiers: [LOCALHOST, LOOPBACK],
      replaces,
    });
    assert.equal(second.status, 409, second.body.toString());
    assert.match(String(second.headers["content-type"]), /^application\/problem\+json/);
    assert.equal(second.json().type, `${ERR}alreadyReplaced`);
    assert.equal(second.json().status, 409);

    // once the replacing order is invalid, the certificate may be replaced again
    const authzUrl = String(first.json<{ authorizations: string[] }>().authorizations[0]);
    assert.equal((await client.post(authzUrl, { status: "deactivated" })).status, 200);
    assert.equal((await client.post(String(first.headers.location), null)).json().status, "invalid");
    const third = await client.post(client.url("newOrder"), { identifiers: [LOCALHOST, LOOPBACK], replaces });
    assert.equal(third.status, 201, third.body.toString());
    const fourth = await client.post(client.url("newOrder"), { identifiers: [LOOPBACK], replaces });
    assert.equal(fourth.status, 409, fourth.body.toString());
    assert.equal(fourth.json().type, `${ERR}alreadyReplaced`);
  });

  test("finalize (7.4): a name in the CSR's commonName counts; the certificate carries it as a SAN", async () => {
    const client = await newClient();

    const cnOnly = await readyOrder(client, [LOCALHOST]);
    const a = await finalize(client, cnOnly.finalize, csrDer({ subject: "/CN=localhost" }));
    assert.equal(a.status, 200, a.body.toString());
    const certA = await client.post(a.json<{ certificate: string }>().certificate, null);
    const leafA = new X509Certificate(certA.body.toString());
    assert.equal(leafA.subjectAltName, "DNS:localhost");
    assert.equal(leafA.subject, "CN=localhost");

    const mixed = await readyOrder(client, [LOCALHOST, LOOPBACK]);
    const b = await finalize(
      client,
      mixed.finalize,
      csrDer({ subject: "/CN=127.0.0.1", san: ["DNS:localhost"] }),
    );
    assert.equal(b.status, 200, b.body.toString());
    const leafB = new X509Certificate(
      (await client.post(b.json<{ certificate: string }>().certificate, null)).body.toString(),
    );
    assert.equal(leafB.subjectAltName, "DNS:localhost, IP Address:127.0.0.1");

    // names that differ from the identifiers are still refused, and the order stays ready
    const refused = await readyOrder(client, [LOCALHOST]);
    for (const csr of [
      { subject: "/CN=other.lan" },
      { subject: "/CN=other.lan", san: ["DNS:localhost"] },
      { subject: "/CN=127.0.0.1", san: ["DNS:localhost"] },
      { subject: "/CN=localhost", san: ["IP:127.0.0.1"] },
    ]) {
      const res = await finalize(client, refused.finalize, csrDer(csr));
      assert.equal(res.status, 400, `${JSON.stringify(csr)}: ${res.body.toString()}`);
      assert.equal(res.json().type, `${ERR}badCSR`);
    }
    assert.equal((await client.post(refused.orderUrl, null)).json().status, "ready");
    const plain = await finalize(
      client,
      refused.finalize,
      csrDer({ subject: "/CN=Not A Name", san: ["DNS:localhost"] }),
    );
    assert.equal(plain.status, 200, plain.body.toString());
  });
});
