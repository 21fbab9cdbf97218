import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { AcmeSession, acmeFetch } from "../../services/agent/issuers/acme/http.js";
import { accountKeyFrom } from "../../services/agent/issuers/acme/jws.js";
import { generateKey } from "../../shared/keys.js";

/**
 * FAKE ACME server, named so: it refuses the first `refusals` nonces with badNonce, as a real
 * server may at random (pebble refuses 5% by default). Our own CA refuses only nonces that are
 * really bad, so it cannot produce this fault.
 */
function nonceRefusingServer(refusals: number) {
  let n = 0;
  let posts = 0;
  const server = createServer((req, res) => {
    res.setHeader("replay-nonce", `nonce-${++n}`);
    if (req.method === "HEAD") return res.writeHead(200).end();
    req.resume();
    req.on("end", () => {
      posts++;
      if (posts <= refusals) {
        res.writeHead(400, { "content-type": "application/problem+json" });
        res.end(
          JSON.stringify({ type: "urn:ietf:params:acme:error:badNonce", detail: "refused", status: 400 }),
        );
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end('{"status":"valid"}');
    });
  });
  return { server, posts: () => posts };
}

describe("the agent's ACME session against a server that refuses nonces (a named fake)", () => {
  const fake = nonceRefusingServer(3);
  let base: string;
  before(async () => {
    await new Promise<void>((resolve) => fake.server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
  });
  after(() => fake.server.close());

  test("badNonce three times in a row: each retried with the nonce that came with it, then it succeeds", async () => {
    const { $fetch, close } = acmeFetch();
    try {
      const session = new AcmeSession($fetch, `${base}/nonce`, await accountKeyFrom(generateKey("ec-p256")));
      session.kid = `${base}/acct/1`;
      const res = await session.post<{ status: string }>("order", `${base}/order/1`, null);
      assert.equal(res.data.status, "valid");
      assert.equal(fake.posts(), 4);
    } finally {
      await close();
    }
  });
});
