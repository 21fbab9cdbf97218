import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { AcmeSession, acmeFetch } from "../../services/agent/issuers/acme/http.js";
import { accountKeyFrom } from "../../services/agent/issuers/acme/jws.js";
import { generateKey } from "../../shared/keys.js";

interface Seen {
  method: string;
  /** the nonce in the JWS protected header of a POST */
  nonce?: string;
  /** the Replay-Nonce this response carried, if any */
  replayNonce?: string;
}

/**
 * FAKE ACME server, named so: it refuses the first `refusals` POSTs with badNonce, as a real
 * server may at random (pebble refuses 5% by default); our own CA refuses only nonces that are
 * really bad, so it cannot produce this fault. It records the nonce each POST was signed with
 * and the Replay-Nonce each response carried. With `refusalsCarryNonce` false a refusal comes
 * without one, so the client must ask newNonce (HEAD) for a fresh one.
 */
function nonceRefusingServer(refusals: number, refusalsCarryNonce: boolean) {
  let n = 0;
  let posts = 0;
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const issue = () => {
      const nonce = `nonce-${++n}`;
      res.setHeader("replay-nonce", nonce);
      return nonce;
    };
    if (req.method === "HEAD") {
      seen.push({ method: "HEAD", replayNonce: issue() });
      return res.writeHead(200).end();
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      posts++;
      const jws = JSON.parse(Buffer.concat(chunks).toString()) as { protected: string };
      const header = JSON.parse(Buffer.from(jws.protected, "base64url").toString()) as { nonce: string };
      const refused = posts <= refusals;
      const replayNonce = !refused || refusalsCarryNonce ? issue() : undefined;
      seen.push({ method: "POST", nonce: header.nonce, replayNonce });
      if (refused) {
        res.writeHead(400, { "content-type": "application/problem+json" });
        res.end(
          JSON.stringify({ type: "urn:ietf:params:acme:error:badNonce", detail: "refused", status: 400 }),
        );
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end('{"status":"valid"}');
    });
  });
  return { server, seen };
}

async function postOnce(base: string) {
  const { $fetch, close } = acmeFetch();
  try {
    const session = new AcmeSession($fetch, `${base}/nonce`, await accountKeyFrom(generateKey("ec-p256")));
    session.kid = `${base}/acct/1`;
    return await session.post<{ status: string }>("order", `${base}/order/1`, null);
  } finally {
    await close();
  }
}

/** Each POST must be signed with the nonce of the response just before it, never one used before. */
function assertEachNonceFresh(seen: Seen[]) {
  const used = new Set<string>();
  for (const [i, s] of seen.entries()) {
    if (s.method !== "POST") continue;
    const previous = seen[i - 1];
    assert.ok(previous?.replayNonce, `request ${i} has a response before it with a nonce`);
    assert.equal(s.nonce, previous.replayNonce, `request ${i} is signed with the nonce just issued`);
    assert.ok(!used.has(s.nonce ?? ""), `nonce ${s.nonce} is used once`);
    used.add(s.nonce ?? "");
  }
}

describe("the agent's ACME session against a server that refuses nonces (a named fake)", () => {
  const withNonce = nonceRefusingServer(3, true);
  const withoutNonce = nonceRefusingServer(2, false);
  const bases: string[] = [];
  before(async () => {
    for (const f of [withNonce, withoutNonce]) {
      await new Promise<void>((resolve) => f.server.listen(0, "127.0.0.1", resolve));
      bases.push(`http://127.0.0.1:${(f.server.address() as AddressInfo).port}`);
    }
  });
  after(() => {
    withNonce.server.close();
    withoutNonce.server.close();
  });

  test("badNonce three times in a row: each retry is signed with the nonce that came with the refusal", async () => {
    const res = await postOnce(bases[0] ?? "");
    assert.equal(res.data.status, "valid");
    assert.deepEqual(
      withNonce.seen.map((s) => `${s.method} ${s.nonce ?? "-"} -> ${s.replayNonce ?? "-"}`),
      [
        "HEAD - -> nonce-1",
        "POST nonce-1 -> nonce-2",
        "POST nonce-2 -> nonce-3",
        "POST nonce-3 -> nonce-4",
        "POST nonce-4 -> nonce-5",
      ],
    );
    assertEachNonceFresh(withNonce.seen);
  });

  test("a refusal without a Replay-Nonce: the retry asks newNonce for a fresh one instead of reusing the refused one", async () => {
    const res = await postOnce(bases[1] ?? "");
    assert.equal(res.data.status, "valid");
    assert.deepEqual(
      withoutNonce.seen.map((s) => `${s.method} ${s.nonce ?? "-"} -> ${s.replayNonce ?? "-"}`),
      [
        "HEAD - -> nonce-1",
        "POST nonce-1 -> -",
        "HEAD - -> nonce-2",
        "POST nonce-2 -> -",
        "HEAD - -> nonce-3",
        "POST nonce-3 -> nonce-4",
      ],
    );
    assertEachNonceFresh(withoutNonce.seen);
  });
});
