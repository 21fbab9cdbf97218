import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import type { TLSSocket } from "node:tls";
import { caClient } from "../../services/agent/issuers/ca-client.js";
import { certificatesFromPem } from "../../shared/x509/pem.js";
import { startCa, type TestCa } from "../helpers/ca.js";
import { makeCsr, selfSignedCert } from "../helpers/openssl.js";

/**
 * The agent's mutual-TLS requests present the leaf of its certificate file alone (ca-client.ts
 * leafPem): a stand-in for the CA records what each handshake carried, and the real CA renews a
 * certificate presented that way.
 */
describe("the agent presents its leaf alone over mutual TLS", () => {
  let ca: TestCa;
  let fullchain: string;
  let keyPem: string;
  let standIn: Server;
  let standInUrl: string;
  let standInRoot: string;
  const presented: { raw: Buffer; issuer: boolean }[] = [];

  before(async () => {
    ca = await startCa();
    const token = await ca.createToken({ name: "leaf", dns: ["leaf.lan"] });
    const csr = makeCsr({ subject: "/CN=leaf.lan", san: ["DNS:leaf.lan"] });
    const res = await ca.request("/v1/sign", { body: { csr: csr.csrPem }, token });
    assert.equal(res.status, 201);
    fullchain = res.json<{ fullchain: string }>().fullchain;
    keyPem = csr.keyPem;

    const own = selfSignedCert("/CN=stand-in", ["subjectAltName=IP:127.0.0.1"]);
    standInRoot = own.certPem;
    standIn = createServer(
      { cert: own.certPem, key: own.keyPem, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerX509Certificate();
        if (peer) presented.push({ raw: peer.raw, issuer: peer.issuerCertificate !== undefined });
        req.resume();
        req.on("end", () => {
          if (req.url === "/v1/hosts/report") return void res.writeHead(204).end();
          res.writeHead(201, { "content-type": "application/json" });
          res.end(
            JSON.stringify({
              serial: "01",
              notBefore: "",
              notAfter: "",
              certificate: "",
              chain: "",
              fullchain,
            }),
          );
        });
      },
    );
    standIn.listen(0, "127.0.0.1");
    await once(standIn, "listening");
    standInUrl = `https://127.0.0.1:${(standIn.address() as AddressInfo).port}`;
  });

  after(async () => {
    standIn?.close();
    await ca?.close();
  });

  test("renewal and the host report carry the leaf, not the intermediate after it", async () => {
    const [leaf, intermediate] = certificatesFromPem(fullchain);
    assert.ok(leaf && intermediate, "the certificate file holds the leaf and its intermediate");
    const client = caClient({ url: standInUrl, rootPem: standInRoot });
    await client.renew({ certPem: fullchain, keyPem });
    await client.report({ certPem: fullchain, keyPem }, { name: "leaf", host: "h1" });
    assert.equal(presented.length, 2);
    for (const p of presented) {
      assert.ok(p.raw.equals(leaf), "the presented certificate is the leaf");
      assert.equal(p.issuer, false, "no intermediate was presented with it");
    }
  });

  test("the CA renews a certificate presented without its intermediate", async () => {
    const client = caClient({ url: ca.url, rootPem: ca.rootPem });
    const renewed = await client.renew({ certPem: fullchain, keyPem });
    const [leaf] = certificatesFromPem(fullchain);
    const [next] = certificatesFromPem(renewed.fullchain);
    assert.ok(leaf && next && !next.equals(leaf), "a new certificate");
    // it renewed once: the same credential again is refused
    await assert.rejects(client.renew({ certPem: fullchain, keyPem }), /renewed already/);
  });
});
