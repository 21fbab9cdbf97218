import assert from "node:assert/strict";
import { request } from "node:https";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import pino from "pino";
import { type HttpResult, startCa, type TestCa } from "../helpers/ca.js";
import { makeCsr } from "../helpers/openssl.js";

/**
 * serve --proxy-protocol-from: behind a TCP load balancer every connection comes from the
 * balancer, and its PROXY header says whose it is. The per-address limit on failed
 * authentications then counts each client apart, as it does without a balancer.
 */

const v1 = (address: string) => Buffer.from(`PROXY TCP4 ${address} 127.0.0.1 40000 8443\r\n`);
function v2(address: string): Buffer {
  const block = Buffer.from([...address.split(".").map(Number), 127, 0, 0, 1, 0x9c, 0x40, 0x20, 0xfb]);
  const head = Buffer.from("0d0a0d0a000d0a515549540a2111000c", "hex");
  return Buffer.concat([head, block]);
}

/** One HTTPS request over a connection that first sends `header` (nothing when null). */
function via(
  ca: TestCa,
  header: Buffer | null,
  path: string,
  o: { method?: string; token?: string; body?: unknown } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const raw: Socket = connect(ca.port, "127.0.0.1");
    // before TLS's ClientHello, which is queued on the socket once the request starts
    if (header) raw.write(header);
    raw.on("error", reject);
    const body = o.body === undefined ? undefined : JSON.stringify(o.body);
    const req = request(
      {
        host: "127.0.0.1",
        port: ca.port,
        path,
        method: o.method ?? "GET",
        headers: {
          ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
          ...(body ? { "content-type": "application/json" } : {}),
        },
        createConnection: () => tlsConnect({ socket: raw, ca: ca.rootPem, host: "127.0.0.1" }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const b = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: b,
            json: <T>() => JSON.parse(b.toString()) as T,
          });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("serve --proxy-protocol-from 127.0.0.0/8", () => {
  let ca: TestCa;
  const lines: string[] = [];
  before(async () => {
    ca = await startCa({
      proxyProtocolFrom: ["127.0.0.0/8"],
      failedAuth: { limit: 3, windowMs: 60_000 },
      log: pino({ level: "warn" }, { write: (l: string) => lines.push(l) }),
    });
  });
  after(() => ca?.close());

  test("a client's failed authentications limit that client, not the others behind the same balancer", async () => {
    const created = await via(ca, v1("192.0.2.1"), "/v1/tokens", {
      method: "POST",
      token: ca.adminToken,
      body: { name: "host", dns: ["*.lan"] },
    });
    assert.equal(created.status, 201, created.body.toString());
    const token = created.json<{ token: string }>().token;
    for (let i = 0; i < 3; i++) {
      const r = await via(ca, v1("192.0.2.7"), "/v1/certs", { token: "cy_wrong" });
      assert.equal(r.status, 401, r.body.toString());
    }
    const limited = await via(ca, v2("192.0.2.7"), "/v1/sign", {
      method: "POST",
      token,
      body: { csr: makeCsr({ san: ["DNS:a.lan"] }).csrPem },
    });
    assert.equal(limited.status, 429, limited.body.toString());
    assert.match(limited.body.toString(), /192\.0\.2\.7/);
    // another client through the same balancer (the same peer address, 127.0.0.1)
    const other = await via(ca, v2("198.51.100.9"), "/v1/sign", {
      method: "POST",
      token,
      body: { csr: makeCsr({ san: ["DNS:b.lan"] }).csrPem },
    });
    assert.equal(other.status, 201, other.body.toString());
    assert.ok(
      lines.some((l) => JSON.parse(l).address === "192.0.2.7"),
      "the log names the client, not the balancer",
    );
  });

  test("a LOCAL header (the balancer's health check) is served as the balancer's own connection", async () => {
    const local = Buffer.from("0d0a0d0a000d0a515549540a20000000", "hex");
    const r = await via(ca, local, "/healthz");
    assert.equal(r.status, 200);
  });

  test("a connection from a listed address without a PROXY header is closed, and no request is read", async () => {
    await assert.rejects(via(ca, null, "/healthz"));
    await assert.rejects(via(ca, Buffer.from("GET /healthz HTTP/1.1\r\n\r\n"), "/healthz"));
  });
});

describe("serve --proxy-protocol-from elsewhere: connections from other addresses are served as they come", () => {
  let ca: TestCa;
  before(async () => {
    ca = await startCa({ proxyProtocolFrom: ["192.0.2.0/24"] });
  });
  after(() => ca?.close());

  test("plain HTTPS from 127.0.0.1 works; a PROXY header from it is not taken", async () => {
    assert.equal((await ca.request("/healthz")).status, 200);
    await assert.rejects(via(ca, v1("198.51.100.9"), "/healthz"));
  });
});
