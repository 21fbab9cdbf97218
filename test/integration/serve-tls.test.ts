import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect } from "node:tls";
import { type ServeProcess, serveProcess } from "../helpers/ca-process.js";

/** One request on a new TLS 1.3 connection: how many session tickets the server sent, and the status line. */
function ticketsOf(
  url: string,
  rootPem: string,
): Promise<{ tickets: number; status: string; version: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    let tickets = 0;
    let text = "";
    let version = "";
    const s = connect({ host: hostname, port: Number(port), ca: rootPem, servername: "localhost" }, () => {
      version = s.getProtocol() ?? "";
      s.write(`GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
    });
    s.on("session", () => tickets++);
    s.on("data", (d: Buffer) => {
      text += d.toString();
    });
    s.on("error", reject);
    // the tickets come right after the handshake, before the response; the server closes after it
    s.on("close", () => resolve({ tickets, status: text.split("\r\n")[0] ?? "", version }));
  });
}

/** serve started with OPENSSL_CONF as given (undefined: unset), whatever this process has. */
async function serveWith(data: string, opensslConf: string | undefined): Promise<ServeProcess> {
  const saved = process.env.OPENSSL_CONF;
  if (opensslConf === undefined) delete process.env.OPENSSL_CONF;
  else process.env.OPENSSL_CONF = opensslConf;
  try {
    return await serveProcess(data);
  } finally {
    if (saved === undefined) delete process.env.OPENSSL_CONF;
    else process.env.OPENSSL_CONF = saved;
  }
}

describe("serve's TLS: no session tickets (issue 16)", () => {
  let data: string;
  let own: string;
  let serve: ServeProcess;
  let rootPem: string;
  before(async () => {
    data = mkdtempSync(join(tmpdir(), "certyard-serve-tls-"));
    serve = await serveWith(data, undefined);
    rootPem = readFileSync(join(data, "root.crt"), "utf8");
    own = join(data, "operator-openssl.cnf");
    writeFileSync(own, "# the operator's own, empty\n");
  });
  after(async () => {
    await serve.stop();
    rmSync(data, { recursive: true, force: true });
  });

  test("a new TLS 1.3 connection gets no session ticket, and its request is answered", async () => {
    for (let i = 0; i < 3; i++) {
      const got = await ticketsOf(serve.url, rootPem);
      assert.equal(got.status, "HTTP/1.1 200 OK");
      assert.equal(got.version, "TLSv1.3");
      assert.equal(got.tickets, 0);
    }
  });

  test("with the operator's own OPENSSL_CONF, theirs wins: OpenSSL's two tickets", async () => {
    await serve.stop();
    serve = await serveWith(data, own);
    const got = await ticketsOf(serve.url, rootPem);
    assert.equal(got.status, "HTTP/1.1 200 OK");
    assert.equal(got.tickets, 2);
  });
});
