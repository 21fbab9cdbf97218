import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { exportJWK, FlattenedSign, generateKeyPair } from "jose";
import { buildEab, verifyEab } from "../../../../../../services/ca/acme/eab.js";
import { checkIdentifiers, csrMatchesOrder } from "../../../../../../services/ca/core/acme/identifiers.js";
import { checkProtectedHeader } from "../../../../../../services/ca/core/acme/jws-header.js";
import type { EabRecord } from "../../../../../../services/ca/core/acme/types.js";
import { parseDnsPattern, parseIpRange } from "../../../../../../services/ca/core/names.js";
import { Problem } from "../../../../../../shared/problem.js";

const URL_ = "https://ca/acme/new-order";
const acmeType = (type: string) => (e: unknown) => e instanceof Problem && e.acmeType === type;

describe("JWS protected header (RFC 8555 6.2)", () => {
  const good = { alg: "ES256", nonce: "n", url: URL_, kid: "https://ca/acme/acct/1" };
  test("a good header passes", () => {
    assert.equal(checkProtectedHeader(good, URL_, "kid").kid, good.kid);
  });
  test("refusals", () => {
    assert.throws(
      () => checkProtectedHeader({ ...good, alg: "none" }, URL_, "kid"),
      acmeType("badSignatureAlgorithm"),
    );
    assert.throws(
      () => checkProtectedHeader({ ...good, alg: "HS256" }, URL_, "kid"),
      acmeType("badSignatureAlgorithm"),
    );
    assert.throws(
      () => checkProtectedHeader({ ...good, nonce: undefined }, URL_, "kid"),
      acmeType("badNonce"),
    );
    assert.throws(
      () => checkProtectedHeader({ ...good, url: `${URL_}x` }, URL_, "kid"),
      acmeType("unauthorized"),
    );
    assert.throws(
      () => checkProtectedHeader({ ...good, jwk: { kty: "EC" } }, URL_, "either"),
      acmeType("malformed"),
    );
    assert.throws(() => checkProtectedHeader(good, URL_, "jwk"), acmeType("malformed"));
    const { kid: _k, ...noKey } = good;
    assert.throws(() => checkProtectedHeader(noKey, URL_, "either"), acmeType("malformed"));
    assert.throws(
      () => checkProtectedHeader({ ...noKey, jwk: { kty: "EC", d: "x" } }, URL_, "jwk"),
      acmeType("malformed"),
    );
  });
});

describe("identifiers (RFC 8555 7.4, RFC 8738)", () => {
  const policy = { dns: [parseDnsPattern("*.lan")], ips: [parseIpRange("10.0.0.0/8")], maxValidityMs: 1 };
  const none = { dns: [], ips: [] };
  test("normalised and checked against the EAB policy and the name constraints", () => {
    assert.deepEqual(
      checkIdentifiers(
        [
          { type: "dns", value: "Reg.LAN" },
          { type: "dns", value: "reg.lan" },
          { type: "ip", value: "10.0.0.1" },
        ],
        policy,
        none,
      ),
      [
        { type: "dns", value: "reg.lan" },
        { type: "ip", value: "10.0.0.1" },
      ],
    );
    assert.throws(
      () => checkIdentifiers([{ type: "dns", value: "a.b.lan" }], policy, none),
      acmeType("rejectedIdentifier"),
    );
    assert.throws(
      () => checkIdentifiers([{ type: "dns", value: "*.lan" }], policy, none),
      acmeType("rejectedIdentifier"),
    );
    assert.throws(
      () => checkIdentifiers([{ type: "email", value: "x" }], policy, none),
      acmeType("unsupportedIdentifier"),
    );
    assert.throws(
      () => checkIdentifiers([{ type: "dns", value: "x.lan" }], policy, { dns: ["corp"], ips: [] }),
      acmeType("rejectedIdentifier"),
    );
  });
  test("an IP address sent as a dns identifier (lego 4.9) is an ip identifier (RFC 8738 3)", () => {
    assert.deepEqual(checkIdentifiers([{ type: "dns", value: "10.0.0.7" }], policy, none), [
      { type: "ip", value: "10.0.0.7" },
    ]);
  });
  test("the CSR must name exactly the order's identifiers", () => {
    const ids = [
      { type: "dns" as const, value: "a.lan" },
      { type: "ip" as const, value: "10.0.0.1" },
    ];
    assert.ok(csrMatchesOrder({ dns: ["A.lan"], ips: ["10.0.0.1"] }, ids));
    assert.ok(!csrMatchesOrder({ dns: ["a.lan"], ips: [] }, ids));
    assert.ok(!csrMatchesOrder({ dns: ["a.lan", "b.lan"], ips: ["10.0.0.1"] }, ids));
  });
});

describe("External Account Binding (RFC 8555 7.3.4)", () => {
  const url = "https://ca/acme/new-account";
  test("a new HMAC key is 256 bits and never starts with '-', which certbot would read as a flag", () => {
    // One random key in 64 starts with "-": 3,000 keys all miss it by chance once in 10^20.
    for (let i = 0; i < 3000; i++) {
      const { record, hmac } = buildEab({ name: "x", dns: ["*.lan"] }, 0);
      assert.notEqual(hmac[0], "-", hmac);
      assert.equal(record.hmacKey.length, 32);
      assert.deepEqual(Buffer.from(hmac, "base64url"), Buffer.from(record.hmacKey));
    }
  });
  async function setup() {
    const { record, hmac } = buildEab({ name: "x", dns: ["*.lan"] }, 0);
    const { publicKey } = await generateKeyPair("ES256");
    const jwk = (await exportJWK(publicKey)) as Record<string, unknown>;
    const lookup = async (kid: string): Promise<EabRecord | null> => (kid === record.kid ? record : null);
    const bind = (
      o: { key?: Uint8Array; kid?: string; url?: string; payload?: unknown; header?: object } = {},
    ) =>
      new FlattenedSign(new TextEncoder().encode(JSON.stringify(o.payload ?? jwk)))
        .setProtectedHeader({ alg: "HS256", kid: o.kid ?? record.kid, url: o.url ?? url, ...o.header })
        .sign(o.key ?? Buffer.from(hmac, "base64url"));
    return { record, jwk, lookup, bind };
  }
  test("a correct binding verifies to its EAB", async () => {
    const { record, jwk, lookup, bind } = await setup();
    assert.equal((await verifyEab(await bind(), jwk, url, lookup)).kid, record.kid);
  });
  test("missing, wrong key, wrong kid, wrong url, other JWK, nonce: refused", async () => {
    const { jwk, lookup, bind } = await setup();
    await assert.rejects(verifyEab(undefined, jwk, url, lookup), acmeType("externalAccountRequired"));
    await assert.rejects(
      verifyEab(await bind({ key: Buffer.alloc(32) }), jwk, url, lookup),
      acmeType("unauthorized"),
    );
    await assert.rejects(verifyEab(await bind({ kid: "nope" }), jwk, url, lookup), acmeType("unauthorized"));
    await assert.rejects(
      verifyEab(await bind({ url: "https://x" }), jwk, url, lookup),
      acmeType("unauthorized"),
    );
    const other = await exportJWK((await generateKeyPair("ES256")).publicKey);
    await assert.rejects(
      verifyEab(await bind({ payload: other }), jwk, url, lookup),
      acmeType("unauthorized"),
    );
    await assert.rejects(
      verifyEab(await bind({ header: { nonce: "n" } }), jwk, url, lookup),
      acmeType("malformed"),
    );
  });
});
