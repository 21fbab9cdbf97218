import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes, X509Certificate } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { threadpoolSigner } from "../../services/ca/authority/signer.js";
import { threadSigner } from "../../services/ca/authority/signer-thread.js";
import type { ParsedCsr } from "../../services/ca/core/csr.js";
import {
  type IssuerKeyKind,
  type LeafFields,
  leafTemplate,
  subjectName,
} from "../../services/ca/core/profile.js";
import type { IssuedCertificate as Issued } from "../../shared/api.js";
import { isProblem, type Problem } from "../../shared/problem.js";
import { unsignedInteger } from "../../shared/x509/der.js";
import { startCa } from "../helpers/ca.js";
import { serveProcess } from "../helpers/ca-process.js";
import { csrToDer, flipSignatureByte, replaceInCsr, toPem } from "../helpers/corpus.js";
import { makeCsr, opensslVerify } from "../helpers/openssl.js";

/** serve's signer (a worker thread) against the threadpool's (serve --no-crypto-thread), for real. */

function issuer(kind: IssuerKeyKind, name: string) {
  const { privateKey, publicKey } =
    kind === "rsa"
      ? generateKeyPairSync("rsa", { modulusLength: 2048 })
      : generateKeyPairSync("ec", { namedCurve: kind === "ec-p384" ? "P-384" : "P-256" });
  const template = leafTemplate({
    subject: subjectName(name),
    keyIdentifier: randomBytes(20),
    keyKind: kind,
    crlUrl: "https://ca.lan:8443/crl/1.crl",
  });
  return { key: privateKey, publicKey, template };
}

function fieldsOf(csr: ParsedCsr): LeafFields {
  return {
    serial: unsignedInteger(Buffer.from("01020304050607080910111213141516", "hex")),
    notBefore: new Date("2026-12-03T10:00:00Z"),
    notAfter: new Date("2027-03-03T10:00:00Z"),
    commonName: csr.dns[0] ?? null,
    spki: csr.spki,
    publicKeyBits: csr.publicKeyBits,
    rsaKey: csr.keyKind === "rsa",
    generalNames: csr.generalNames,
  };
}

/** What a signer's promise settled to: the value, or the Problem's kind, status and detail. */
async function outcome<T>(p: Promise<T>): Promise<{ ok: T } | { problem: [string, number, string] }> {
  try {
    return { ok: await p };
  } catch (e) {
    assert.ok(isProblem(e), `not a Problem: ${String(e)}`);
    const pr = e as Problem;
    return { problem: [pr.kind, pr.status, pr.message] };
  }
}

describe("the crypto thread signer", () => {
  const inThread = threadSigner();
  const inPool = threadpoolSigner();
  after(() => inThread.close());
  const csrs = {
    ec: makeCsr({ key: "ec-p256", subject: "/CN=registry.lan", san: ["DNS:registry.lan", "IP:10.0.0.5"] }),
    rsa: makeCsr({ key: "rsa-2048", san: ["DNS:Build.LAN", "IP:fd00::5", "DNS:build.lan"] }),
  };

  test("the same parsed CSRs, and byte for byte the same certificates (RSA signatures are deterministic)", async () => {
    const ca = issuer("rsa", "Test Intermediate");
    for (const { csrPem } of Object.values(csrs)) {
      const der = csrToDer(csrPem);
      const parsed = await inThread.parseCsr(der);
      assert.deepEqual(parsed, await inPool.parseCsr(der));
      const fields = fieldsOf(parsed);
      const pem = await inThread.certificate(ca.template, ca.key, fields);
      assert.equal(pem, await inPool.certificate(ca.template, ca.key, fields));
      assert.ok(new X509Certificate(pem).verify(ca.publicKey));
    }
  });

  test("bad CSRs get the same Problems, with the same messages", async () => {
    const good = csrs.ec.csrPem;
    const der = csrToDer(good);
    const bad: Record<string, Uint8Array> = {
      "wrong signature": csrToDer(flipSignatureByte(good)),
      "signed part changed": csrToDer(replaceInCsr(good, "registry.lan", "registrx.lan")),
      "not DER": Buffer.from("not a CSR at all"),
      "trailing bytes": Buffer.concat([der, Buffer.from([0])]),
      "Ed25519 key": csrToDer(makeCsr({ key: "ed25519", san: ["DNS:a.lan"] }).csrPem),
      "RSA 1024": csrToDer(makeCsr({ key: "rsa-1024", san: ["DNS:a.lan"] }).csrPem),
      "SHA-1 signature": csrToDer(makeCsr({ key: "ec-p256", san: ["DNS:a.lan"], digest: "sha1" }).csrPem),
      "a bad DNS name": csrToDer(makeCsr({ san: ["DNS:bad_name.lan"] }).csrPem),
      "an empty body": new Uint8Array(0),
    };
    for (const [what, bytes] of Object.entries(bad)) {
      const fromThread = await outcome(inThread.parseCsr(bytes));
      assert.ok("problem" in fromThread, `${what}: accepted`);
      assert.deepEqual(fromThread, await outcome(inPool.parseCsr(bytes)), what);
    }
    // a Buffer slice of a larger buffer is read as the slice only
    const inPoolSlice = Buffer.concat([Buffer.from([1, 2, 3]), der, Buffer.from([4])]).subarray(
      3,
      3 + der.length,
    );
    assert.deepEqual(await inThread.parseCsr(inPoolSlice), await inPool.parseCsr(der));
  });

  test("each certificate is signed by the key it was asked for, across rotations in flight", async () => {
    const [a, b] = [issuer("ec-p256", "Intermediate A"), issuer("ec-p384", "Intermediate B")];
    const fields = fieldsOf(await inThread.parseCsr(csrToDer(csrs.ec.csrPem)));
    const order = [a, b, b, a, b, a, a];
    const pems = await Promise.all(order.map((i) => inThread.certificate(i.template, i.key, fields)));
    pems.forEach((pem, n) => {
      const cert = new X509Certificate(pem);
      const want = order[n] ?? a;
      assert.ok(cert.verify(want.publicKey), `certificate ${n}`);
      assert.equal(cert.issuer, want === a ? "CN=Intermediate A" : "CN=Intermediate B");
    });
  });

  test("a thread that dies fails the requests it had, and the next request gets a new thread with the key", async () => {
    const exits: number[] = [];
    const signer = threadSigner((code) => exits.push(code));
    const threadNow = () => signer.thread;
    try {
      const ca = issuer("ec-p256", "Test Intermediate");
      const der = csrToDer(csrs.ec.csrPem);
      const fields = fieldsOf(await signer.parseCsr(der));
      await signer.certificate(ca.template, ca.key, fields);
      const first = signer.thread;
      assert.ok(first);
      const firstId = first.threadId;
      void first.terminate();
      // posted to the stopping thread, which will never answer
      const lost = signer.parseCsr(der);
      await assert.rejects(lost, (e: Error) => {
        assert.ok(!isProblem(e), "a dead thread is the server's failure, not the client's");
        assert.match(e.message, /^the crypto thread stopped \(exit code 1\)$/);
        return true;
      });
      assert.deepEqual(exits, [1]);
      assert.equal(threadNow(), null);
      const pem = await signer.certificate(ca.template, ca.key, fields);
      assert.ok(new X509Certificate(pem).verify(ca.publicKey));
      assert.notEqual(threadNow()?.threadId, firstId);
      assert.deepEqual(await signer.parseCsr(der), await inPool.parseCsr(der));
    } finally {
      await signer.close();
    }
  });

  test("rest stops an idle thread (no crash), keeps a busy one, and the next request starts another with the key", async () => {
    const exits: number[] = [];
    const signer = threadSigner((code) => exits.push(code));
    const threadNow = () => signer.thread;
    try {
      const ca = issuer("ec-p256", "Test Intermediate");
      const der = csrToDer(csrs.ec.csrPem);
      const fields = fieldsOf(await signer.parseCsr(der));
      await signer.certificate(ca.template, ca.key, fields);
      const first = threadNow();
      assert.ok(first);
      const busy = signer.parseCsr(der);
      signer.rest();
      assert.equal(threadNow(), first, "a thread with a request in hand is kept");
      await busy;
      const exited = new Promise<number>((resolve) => first.once("exit", resolve));
      signer.rest();
      assert.equal(threadNow(), null);
      assert.equal(await exited, 1);
      const pem = await signer.certificate(ca.template, ca.key, fields);
      assert.ok(new X509Certificate(pem).verify(ca.publicKey));
      assert.notEqual(threadNow(), first);
      assert.deepEqual(exits, [], "resting is not a crash");
    } finally {
      await signer.close();
    }
  });

  test("close stops the thread; later requests fail", async () => {
    const signer = threadSigner();
    const der = csrToDer(csrs.ec.csrPem);
    await signer.parseCsr(der);
    const thread = signer.thread;
    assert.ok(thread);
    const exited = new Promise<number>((resolve) => thread.once("exit", resolve));
    await signer.close();
    assert.equal(await exited, 1);
    await assert.rejects(signer.parseCsr(der), /^Error: the crypto thread is closed$/);
  });
});

describe("serve's crypto thread over real HTTPS", async () => {
  const ca = await startCa();
  after(() => ca.close());
  const token = await ca.createToken({ name: "registry", dns: ["registry.lan"], ip: ["10.0.0.0/24"] });

  test("signs certificates that pass openssl verify -x509_strict", async () => {
    for (const key of ["ec-p256", "rsa-2048"] as const) {
      const csr = makeCsr({ key, subject: "/CN=registry.lan", san: ["DNS:registry.lan", "IP:10.0.0.5"] });
      const res = await ca.request("/v1/sign", { body: { csr: csr.csrPem }, token });
      assert.equal(res.status, 201, res.body.toString());
      const issued = res.json<Issued>();
      const verify = opensslVerify(issued.certificate, issued.chain, ca.rootPem, ["-purpose", "sslserver"]);
      assert.ok(verify.ok, verify.output);
    }
  });

  test("a CSR whose signature does not verify gets the same problem document", async () => {
    const csr = flipSignatureByte(makeCsr({ san: ["DNS:registry.lan"] }).csrPem);
    const res = await ca.request("/v1/sign", { body: { csr: toPem(csrToDer(csr)) }, token });
    assert.equal(res.status, 400);
    const doc = res.json<{ type: string; detail: string }>();
    assert.equal(doc.type, "https://certyard.dev/problems/badSignature");
    assert.equal(doc.detail, "the CSR's signature does not verify against its public key");
  });
});

test("serve with its crypto thread stops on SIGTERM; serve --no-crypto-thread starts no thread", async () => {
  const dir = mkdtempSync(join(tmpdir(), "certyard-crypto-thread-"));
  try {
    const serve = await serveProcess(join(dir, "data"), []);
    assert.equal(await serve.stop(), 0);
    const pool = await serveProcess(join(dir, "data"), ["--no-crypto-thread"]);
    const pid = pool.child.pid ?? 0;
    const names = readdirSync(`/proc/${pid}/task`).map((t) =>
      readFileSync(`/proc/${pid}/task/${t}/comm`, "utf8").trim(),
    );
    assert.ok(!names.includes("WorkerThread"), names.join(", "));
    assert.equal(await pool.stop(), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
