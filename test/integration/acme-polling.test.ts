import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { calculateJwkThumbprint } from "jose";
import { eabCreate } from "../../services/ca/cli/eab-cmds.js";
import { TestAcmeClient } from "../helpers/acme-client.js";
import { startCa, type TestCa } from "../helpers/ca.js";
import { type Http01Responder, startHttp01Responder } from "../helpers/http01.js";
import { openTestStore } from "../helpers/test-db.js";

/** How long the challenge POST waits for its validation; the responder holds its answer longer. */
const VALIDATION_WAIT_MS = 200;

/**
 * What polling clients are told while something is still under way (RFC 8555 7.4, 7.5.1): a
 * Retry-After of 1 s on a pending authorization whose validation is running and on a processing
 * order, and none otherwise. certbot polls authorizations and waits 3 s when the header is missing.
 */
describe("ACME server: Retry-After while validating or finalizing", () => {
  let ca: TestCa;
  let responder: Http01Responder;
  let client: TestAcmeClient;
  // A slow client: its http-01 responder answers only once the test opens the gate.
  let openGate = () => {};
  const gate = new Promise<void>((resolve) => {
    openGate = resolve;
  });

  before(async () => {
    responder = await startHttp01Responder(() => gate);
    ca = await startCa({
      acme: { httpPort: responder.port, limits: { validationWaitMs: VALIDATION_WAIT_MS } },
    });
    const [kid, hmac] = (await eabCreate({ ...ca.data, name: "poll", ip: ["127.0.0.1"] })).split(" ") as [
      string,
      string,
    ];
    client = await TestAcmeClient.create(`${ca.url}/acme/directory`, ca.rootPem);
    assert.equal((await client.register(kid, hmac)).status, 201);
  });
  after(async () => {
    openGate();
    await ca.close();
    responder.close();
  });

  async function newOrder() {
    const res = await client.post(client.url("newOrder"), {
      identifiers: [{ type: "ip", value: "127.0.0.1" }],
    });
    assert.equal(res.status, 201, res.body.toString());
    const o = res.json<{ authorizations: string[] }>();
    return { orderUrl: String(res.headers.location), authzUrl: String(o.authorizations[0]) };
  }

  test("authorization: Retry-After while its validation runs, none before or after", async () => {
    const { authzUrl } = await newOrder();
    const before = await client.post(authzUrl, null);
    assert.equal(before.json().status, "pending");
    assert.equal(before.headers["retry-after"], undefined, "nothing is running yet");

    const ch = before
      .json<{ challenges: { type: string; url: string; token: string }[] }>()
      .challenges.find((c) => c.type === "http-01");
    assert.ok(ch);
    responder.answers.set(ch.token, `${ch.token}.${await calculateJwkThumbprint(client.jwk)}`);
    const started = await client.post(ch.url, {});
    assert.equal(started.json().status, "processing");
    assert.equal(started.headers["retry-after"], "1");

    const running = await client.post(authzUrl, null);
    assert.equal(running.json().status, "pending");
    assert.equal(running.headers["retry-after"], "1");

    openGate();
    // The validation finishes as soon as the answer arrives; asking again is all the waiting.
    let done = running;
    for (let i = 0; i < 500 && done.json().status === "pending"; i++)
      done = await client.post(authzUrl, null);
    assert.equal(done.json().status, "valid", done.body.toString());
    assert.equal(done.headers["retry-after"], undefined);
  });

  test("order: Retry-After while another request is finalizing it, none otherwise", async () => {
    const { orderUrl } = await newOrder();
    const pending = await client.post(orderUrl, null);
    assert.equal(pending.json().status, "pending");
    assert.equal(pending.headers["retry-after"], undefined);

    // An order in the middle of a finalize (another worker's), as finalize's claim leaves it.
    const store = await openTestStore(ca.dataDir);
    try {
      assert.ok(await store.acme.orders.claim(orderUrl.split("/").pop() ?? ""));
    } finally {
      await store.close();
    }
    const processing = await client.post(orderUrl, null);
    assert.equal(processing.json().status, "processing");
    assert.equal(processing.headers["retry-after"], "1");
  });
});
