import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { connect } from "node:tls";
import pino from "pino";
import { decodePem } from "../../shared/x509/pem.js";
import { type AcmeBed, startAcmeBed } from "../helpers/acme-bed.js";
import { startCa, type TestCa } from "../helpers/ca.js";
import { makeCsr } from "../helpers/openssl.js";

interface Line {
  level: number;
  msg: string;
  err?: { stack?: string };
  [field: string]: unknown;
}

/** A pino logger at debug whose lines land in `lines`, parsed. */
function capture() {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of chunk.toString().split("\n")) if (l) lines.push(JSON.parse(l) as Line);
      done();
    },
  });
  return { lines, log: pino({ level: "debug" }, sink) };
}

/** Polls until `ok` holds (a log line is written after the response). */
async function until(ok: () => boolean, what: string) {
  for (let i = 0; i < 600 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(ok(), what);
}

const ERROR = 50;

/** Issue 14, logs: client disconnects are not errors; ACME issuance and revocation are logged. */
describe("what the CA logs", () => {
  let ca: TestCa;
  const { lines, log } = capture();
  before(async () => {
    ca = await startCa({ log });
  });
  after(() => ca.close());

  /** Sends a request head promising 1000 bytes, part of the body, and closes the connection. */
  const abandon = (path: string, auth: string) =>
    new Promise<void>((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port: ca.port, ca: ca.rootPem, servername: "localhost" }, () => {
        s.write(
          `POST ${path} HTTP/1.1\r\nhost: ca\r\ncontent-type: application/json\r\nauthorization: ${auth}\r\ncontent-length: 1000\r\n\r\n{"csr":`,
          () => setImmediate(() => s.destroy()),
        );
      });
      s.on("close", () => resolve());
      s.on("error", reject);
    });

  test("a client that disconnects mid-body is one debug line, no error with a stack (before: an error and a stack trace each)", async () => {
    const token = await ca.createToken({ name: "t", dns: ["registry.lan"] });
    const gone = () =>
      lines.filter((l) => l.msg === "the client disconnected before the request was complete");
    for (let i = 0; i < 10; i++) {
      await abandon("/v1/sign", `Bearer ${token}`);
      await abandon("/v1/revoke", `Bearer ${ca.adminToken}`);
    }
    await until(() => gone().length === 20, `20 disconnect lines, saw ${gone().length}`);
    assert.ok(gone().every((l) => l.level === 20 && l.err === undefined));
    assert.deepEqual(
      lines.filter((l) => l.level >= ERROR),
      [],
      "nothing at error",
    );
    // the CA still serves
    const res = await ca.request("/v1/sign", {
      body: { csr: makeCsr({ san: ["DNS:registry.lan"] }).csrPem },
      token,
    });
    assert.equal(res.status, 201);
  });
});

describe("what the ACME server logs", () => {
  let bed: AcmeBed;
  const { lines, log } = capture();
  before(async () => {
    bed = await startAcmeBed({ eab: { name: "logs", ip: ["127.0.0.1"] }, log });
  });
  after(() => bed.close());

  test("an issuance and a revocation are logged at info with account, order, serial and names (before: not at all)", async () => {
    const client = await bed.newClient();
    const csr = makeCsr({ san: ["IP:127.0.0.1"] });
    const der = decodePem(csr.csrPem)[0]?.der;
    assert.ok(der);
    const issued = await client.issue({ type: "ip", value: "127.0.0.1" }, der, (t, k) =>
      bed.responder.answers.set(t, k),
    );
    const account = client.accountUrl.split("/").pop();
    const order = issued.orderUrl.split("/").pop();
    const issuedLine = lines.find((l) => l.msg === "ACME certificate issued");
    assert.ok(issuedLine, "an issuance line");
    assert.equal(issuedLine.level, 30);
    assert.equal(issuedLine.account, account);
    assert.equal(issuedLine.order, order);
    assert.deepEqual(issuedLine.names, ["127.0.0.1"]);
    const serial = String(issuedLine.serial);
    assert.match(serial, /^[0-9a-f]+$/);

    const res = await client.post(client.url("revokeCert"), {
      certificate: Buffer.from(issued.leafDer).toString("base64url"),
      reason: 4,
    });
    assert.equal(res.status, 200, res.body.toString());
    const revokedLine = lines.find((l) => l.msg === "ACME certificate revoked");
    assert.ok(revokedLine, "a revocation line");
    assert.equal(revokedLine.level, 30);
    assert.equal(revokedLine.account, account);
    assert.equal(revokedLine.order, order);
    assert.equal(revokedLine.serial, serial);
    assert.deepEqual(revokedLine.names, ["127.0.0.1"]);
    assert.equal(revokedLine.reason, 4);
  });
});
