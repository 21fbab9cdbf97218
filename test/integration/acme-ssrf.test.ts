import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { calculateJwkThumbprint } from "jose";
import { type AcmeBed, startAcmeBed } from "../helpers/acme-bed.js";

const ERR = "urn:ietf:params:acme:error:";

/**
 * Issue 14: `serve` without --acme-validation-allow does not validate on its own loopback (an
 * IP identifier 127.0.0.1 made it connect to any local service on the http-01 port).
 */
describe("ACME validation through serve, with the default address policy", () => {
  let bed: AcmeBed;
  let requests = 0;

  before(async () => {
    bed = await startAcmeBed({
      eab: { name: "ssrf", ip: ["127.0.0.1"] },
      validationAllow: [],
      beforeAnswer: async () => {
        requests++;
      },
    });
  });
  after(() => bed.close());

  test("an order for 127.0.0.1 fails validation without a connection, and says why", async () => {
    const client = await bed.newClient();
    const order = await client.post(client.url("newOrder"), {
      identifiers: [{ type: "ip", value: "127.0.0.1" }],
    });
    assert.equal(order.status, 201, order.body.toString());
    const authzUrl = String(order.json<{ authorizations: string[] }>().authorizations[0]);
    type Authz = { challenges: { type: string; url: string; token: string }[] };
    const authz = (await client.post(authzUrl, null)).json<Authz>();
    const http01 = authz.challenges.find((c) => c.type === "http-01");
    assert.ok(http01);
    // the responder would answer correctly: only the address stands in the way
    bed.responder.answers.set(http01.token, `${http01.token}.${await calculateJwkThumbprint(client.jwk)}`);
    const ch = await client.post(http01.url, {});
    assert.equal(ch.json().status, "invalid", ch.body.toString());
    const error = ch.json<{ error: { type: string; detail: string } }>().error;
    assert.equal(error.type, `${ERR}connection`);
    assert.equal(error.detail, "address 127.0.0.1 is not allowed for validation");
    assert.equal(requests, 0, "the responder was never asked");
  });
});
