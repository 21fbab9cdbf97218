import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { certIdOf } from "../../shared/acme/cert-id.js";
import { decodePem } from "../../shared/x509/pem.js";
import { type AcmeBed, startAcmeBed } from "../helpers/acme-bed.js";
import { httpsRequest } from "../helpers/ca.js";
import { makeCsr } from "../helpers/openssl.js";
import { dbEnv } from "../helpers/test-db.js";

const CA_CLI = fileURLToPath(new URL("../../services/ca/main.js", import.meta.url));

/**
 * An ACME certificate issued before `rotate intermediate` is still the CA's own to ACME clients:
 * its renewal info (RFC 9773 4) is answered and a new order may name it in `replaces` (RFC 9773
 * 5), though its CertID carries the retired intermediate's key identifier. Before, both were
 * refused as another issuer's, and an ARI client's renewal failed.
 */
describe("ACME after an intermediate rotation", () => {
  let bed: AcmeBed;
  before(async () => {
    bed = await startAcmeBed({ eab: { name: "rot", ip: ["127.0.0.1"] } });
  });
  after(() => bed.close());

  test("renewalInfo and replaces for a certificate of the retired intermediate", async () => {
    const client = await bed.newClient();
    const csr = makeCsr({ san: ["IP:127.0.0.1"] });
    const der = decodePem(csr.csrPem)[0]?.der as Uint8Array;
    const answer = (token: string, keyAuthorization: string) =>
      bed.responder.answers.set(token, keyAuthorization);
    const { leafDer } = await client.issue({ type: "ip", value: "127.0.0.1" }, der, answer);
    const chainBefore = (await bed.ca.request("/chain.pem")).body.toString();

    const r = spawnSync(process.execPath, [CA_CLI, "rotate", "intermediate", "--data", bed.ca.dataDir], {
      encoding: "utf8",
      env: { ...process.env, ...dbEnv(bed.ca.dataDir) },
    });
    assert.equal(r.status, 0, r.stderr);
    // the running CA takes the rotation up by itself (every 5 s)
    const deadline = Date.now() + 60_000;
    while ((await bed.ca.request("/chain.pem")).body.toString() === chainBefore) {
      assert.ok(Date.now() < deadline, "serve did not take up the rotation");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }

    const ari = await httpsRequest(`${client.url("renewalInfo")}/${certIdOf(leafDer)}`, bed.ca.rootPem);
    assert.equal(ari.status, 200, ari.body.toString());
    const order = await client.post(client.url("newOrder"), {
      identifiers: [{ type: "ip", value: "127.0.0.1" }],
      replaces: certIdOf(leafDer),
    });
    assert.equal(order.status, 201, order.body.toString());
  });
});
