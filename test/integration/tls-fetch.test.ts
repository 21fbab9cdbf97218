import assert from "node:assert/strict";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import type { TLSSocket } from "node:tls";
import { createFetch, FetchError } from "ofetch";
import { tlsFetch } from "../../services/agent/issuers/tls-fetch.js";
import { selfSignedCert } from "../helpers/openssl.js";

// The agent's one HTTP transport under ofetch, against a real HTTPS server on 127.0.0.1.
describe("tlsFetch: ofetch over node's https with a pinned CA", () => {
  const server = selfSignedCert("/CN=server", ["subjectAltName=IP:127.0.0.1"]);
  const other = selfSignedCert("/CN=other", ["subjectAltName=IP:127.0.0.1"]);
  const client = selfSignedCert("/CN=agent-client");
  let https: Server;
  let base = "";

  before(async () => {
    https = createServer(
      { cert: server.certPem, key: server.keyPem, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          if (req.url === "/redirect") {
            res.writeHead(302, { location: "https://127.0.0.1:1/elsewhere" }).end();
          } else if (req.url === "/empty") {
            res.writeHead(204).end();
          } else if (req.url === "/silent") {
            // never answers: the client's timeout must end it
          } else {
            res.writeHead(200, { "content-type": "application/json", "replay-nonce": "n1" });
            res.end(
              JSON.stringify({
                method: req.method,
                body: Buffer.concat(chunks).toString(),
                clientCn: peer?.subject?.CN ?? null,
              }),
            );
          }
        });
      },
    );
    await new Promise<void>((resolve) => https.listen(0, "127.0.0.1", resolve));
    base = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;
  });
  after(() => {
    https.closeAllConnections();
    https.close();
  });

  test("trusts the pinned CA: a JSON POST goes through with its body, and headers come back", async () => {
    const t = tlsFetch({ ca: server.certPem });
    try {
      const res = await createFetch({ fetch: t.fetch }).raw<{ method: string; body: string }>(
        `${base}/echo`,
        {
          method: "POST",
          body: { hello: "world" },
        },
      );
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("replay-nonce"), "n1");
      assert.deepEqual(res._data, { method: "POST", body: '{"hello":"world"}', clientCn: null });
    } finally {
      t.close();
    }
  });

  test("refuses a server whose certificate does not chain to the pinned CA", async () => {
    const t = tlsFetch({ ca: other.certPem });
    try {
      await assert.rejects(createFetch({ fetch: t.fetch })(`${base}/echo`, { retry: 0 }), (err: unknown) => {
        assert.ok(err instanceof FetchError);
        const cause = err.cause as { message?: string; cause?: { code?: string } };
        assert.equal(cause.message, "fetch failed");
        assert.match(String(cause.cause?.code), /SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
        return true;
      });
    } finally {
      t.close();
    }
  });

  test("presents the client certificate for mutual TLS", async () => {
    const t = tlsFetch({ ca: server.certPem, cert: client.certPem, key: client.keyPem });
    try {
      const got = await createFetch({ fetch: t.fetch })<{ clientCn: string }>(`${base}/echo`);
      assert.equal(got.clientCn, "agent-client");
    } finally {
      t.close();
    }
  });

  test("does not follow a redirect, and says where it pointed", async () => {
    const t = tlsFetch({ ca: server.certPem });
    try {
      await assert.rejects(
        createFetch({ fetch: t.fetch })(`${base}/redirect`, { retry: 0 }),
        (err: unknown) => {
          assert.ok(err instanceof FetchError);
          const cause = err.cause as { cause?: { message?: string } };
          assert.equal(
            cause.cause?.message,
            "redirected to https://127.0.0.1:1/elsewhere (redirects are not followed)",
          );
          return true;
        },
      );
    } finally {
      t.close();
    }
  });

  test("a 204 and a HEAD have no body; a server that never answers ends with ofetch's timeout", async () => {
    const t = tlsFetch({ ca: server.certPem });
    const $fetch = createFetch({ fetch: t.fetch });
    try {
      assert.equal((await $fetch.raw(`${base}/empty`)).status, 204);
      const head = await $fetch.raw(`${base}/echo`, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("replay-nonce"), "n1");
      await assert.rejects($fetch(`${base}/silent`, { retry: 0, timeout: 300 }), (err: unknown) => {
        assert.ok(err instanceof FetchError);
        assert.match(err.message, /timeout|aborted/i);
        return true;
      });
    } finally {
      t.close();
    }
  });

  test("refuses a scheme other than http and https", async () => {
    const t = tlsFetch();
    await assert.rejects(t.fetch("file:///etc/passwd"), /unsupported protocol file:/);
    t.close();
  });
});
