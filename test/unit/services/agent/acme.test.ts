import assert from "node:assert/strict";
import { createHash, createPublicKey } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { base64url, flattenedVerify } from "jose";
import { challengeFromOpts } from "../../../../services/agent/commands/issuers.js";
import { accountFile, loadOrCreateAccount } from "../../../../services/agent/issuers/acme/account.js";
import {
  challengeFromRecord,
  challengeToRecord,
  checkChallengeToken,
  dns01HookEnv,
  webrootHttp01,
} from "../../../../services/agent/issuers/acme/challenges.js";
import { retryDelayMs } from "../../../../services/agent/issuers/acme/flow.js";
import {
  accountKeyFrom,
  dns01Value,
  externalAccountBinding,
  keyAuthorization,
  signRequest,
} from "../../../../services/agent/issuers/acme/jws.js";
import { generateKey } from "../../../../shared/keys.js";

const ecKey = () => {
  const privateKey = generateKey("ec-p256");
  return { privateKey, publicKey: createPublicKey(privateKey) };
};

describe("ACME client pieces", () => {
  test("key authorization is token.thumbprint (RFC 8555 8.1, RFC 7638 member order)", async () => {
    const { privateKey } = ecKey();
    const key = await accountKeyFrom(privateKey);
    assert.deepEqual(Object.keys(key.jwk).sort(), ["crv", "kty", "x", "y"]);
    const canonical = JSON.stringify({ crv: key.jwk.crv, kty: key.jwk.kty, x: key.jwk.x, y: key.jwk.y });
    const thumb = createHash("sha256").update(canonical).digest("base64url");
    assert.equal(await keyAuthorization("tok-123", key.jwk), `tok-123.${thumb}`);
  });

  test("dns-01 value is base64url(sha256(key authorization)) (RFC 8555 8.4); hook environment", () => {
    const ka = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ";
    const want = createHash("sha256").update(ka).digest("base64url");
    assert.equal(dns01Value(ka), want);
    assert.doesNotMatch(want, /[=+/]/);
    assert.deepEqual(dns01HookEnv("present", "*.lan.example", ka), {
      CERTYARD_ACME_ACTION: "present",
      CERTYARD_ACME_DOMAIN: "*.lan.example",
      CERTYARD_ACME_RECORD_NAME: "_acme-challenge.lan.example",
      CERTYARD_ACME_RECORD_VALUE: want,
    });
  });

  test("a request JWS verifies with the account key: jwk before the account, kid after; POST-as-GET is empty", async () => {
    const { privateKey, publicKey } = ecKey();
    const key = await accountKeyFrom(privateKey);
    const first = await signRequest(key, { url: "https://ca/new-acct", nonce: "n1", payload: { a: 1 } });
    const v1 = await flattenedVerify(first, publicKey);
    assert.deepEqual(v1.protectedHeader, {
      alg: "ES256",
      nonce: "n1",
      url: "https://ca/new-acct",
      jwk: key.jwk,
    });
    assert.deepEqual(JSON.parse(new TextDecoder().decode(v1.payload)), { a: 1 });
    const get = await signRequest(key, {
      url: "https://ca/order/1",
      nonce: "n2",
      kid: "https://ca/acct/7",
      payload: null,
    });
    assert.equal(get.payload, "");
    const v2 = await flattenedVerify(get, publicKey);
    assert.equal(v2.protectedHeader?.kid, "https://ca/acct/7");
    assert.equal(v2.protectedHeader?.jwk, undefined);
    assert.equal(v2.payload.length, 0);
  });

  test("EAB is an HS256 JWS over the account JWK with the EAB kid and the newAccount URL (RFC 8555 7.3.4)", async () => {
    const key = await accountKeyFrom(ecKey().privateKey);
    const hmac = base64url.encode(new Uint8Array(32).fill(7));
    const eab = await externalAccountBinding(key.jwk, {
      kid: "kid-1",
      hmacKey: hmac,
      url: "https://ca/new-acct",
    });
    const v = await flattenedVerify(eab, base64url.decode(hmac));
    assert.deepEqual(v.protectedHeader, { alg: "HS256", kid: "kid-1", url: "https://ca/new-acct" });
    assert.deepEqual(JSON.parse(new TextDecoder().decode(v.payload)), key.jwk);
    await assert.rejects(flattenedVerify(eab, new Uint8Array(32).fill(8)));
  });

  test("Retry-After: seconds or a date, clamped", () => {
    assert.equal(retryDelayMs("2", 250), 2000);
    assert.equal(retryDelayMs(null, 250), 250);
    assert.equal(retryDelayMs("3600", 250), 10_000);
    assert.equal(retryDelayMs("0", 250), 100);
    assert.equal(retryDelayMs(new Date(10_000 + 3000).toUTCString(), 250, 10_000), 3000);
  });

  test("challenge settings: one way only, kept in the record and read back", () => {
    assert.deepEqual(challengeFromOpts({}), { kind: "http-01", port: 80 });
    assert.deepEqual(challengeFromOpts({ http01Port: "8080" }), { kind: "http-01", port: 8080 });
    assert.throws(() => challengeFromOpts({ http01Port: "80", webroot: "/srv" }), /only one/);
    assert.throws(() => challengeFromOpts({ http01Port: "x" }), /--http-01-port: "x" is not a port number/);
    for (const c of [
      { kind: "http-01", port: 5002 },
      { kind: "webroot", dir: "/srv/www" },
      { kind: "dns-01", hook: "/usr/local/bin/dns-hook" },
    ] as const) {
      assert.deepEqual(challengeFromRecord(challengeToRecord(c)), c);
    }
  });

  test("webroot writes the key authorization under .well-known/acme-challenge and removes it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cy-webroot-"));
    const token = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
    try {
      const s = webrootHttp01(dir);
      await s.start();
      const id = { type: "dns" as const, value: "a.test" };
      await s.present(id, token, `${token}.thumb`);
      const file = join(dir, ".well-known", "acme-challenge", token);
      assert.equal(readFileSync(file, "utf8"), `${token}.thumb`);
      await s.cleanup(id, token, `${token}.thumb`);
      assert.equal(existsSync(file), false);
      await s.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("challenge tokens: base64url of at least 128 bits (RFC 8555 8.1), or refused", () => {
    assert.equal(checkChallengeToken("evaGxfADs6pSRb2LAv9IZf"), "evaGxfADs6pSRb2LAv9IZf");
    for (const bad of [
      "evaGxfADs6pSRb2LAv9IZ",
      "../../etc/passwd-aaaaaaaaaaaa",
      "a".repeat(201),
      "",
      42,
      null,
    ])
      assert.throws(() => checkChallengeToken(bad), /invalid challenge token/);
  });

  test("the account key is made once per directory and kept 0600", () => {
    const dir = mkdtempSync(join(tmpdir(), "cy-acct-"));
    try {
      const a = loadOrCreateAccount(dir, "https://ca.test/dir");
      const b = loadOrCreateAccount(dir, "https://ca.test/dir");
      const c = loadOrCreateAccount(dir, "https://other.test/dir");
      assert.equal(a.key.asymmetricKeyDetails?.namedCurve, "prime256v1");
      assert.ok(a.key.equals(b.key));
      assert.ok(!a.key.equals(c.key));
      assert.equal(statSync(accountFile(dir, "https://ca.test/dir")).mode & 0o777, 0o600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
