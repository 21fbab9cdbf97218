import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { tokenRevoke } from "../../services/ca/cli/admin-cmds.js";
import { type HttpResult, startCa, type TestCa } from "../helpers/ca.js";
import {
  csrForKey,
  csrToDer,
  flipSignatureByte,
  replaceInCsr,
  rsaKeyWithExponent,
  toPem,
} from "../helpers/corpus.js";
import { makeCsr } from "../helpers/openssl.js";

/**
 * The corpus of bad input for POST /v1/sign, against a real CA over real HTTPS. Every case must
 * get the right 4xx as an RFC 9457 problem document whose `type` is the same for every case of
 * the same kind, and must leave nothing behind: no new certificate in the inventory, no use or
 * rate slot taken from the token.
 */

// ---- problem documents -------------------------------------------------------------------------

/** The `type` and `title` first seen for each kind of failure, and the status each type was seen with. */
const typeOfKind = new Map<string, { type: string; title: string; from: string }>();
const statusOfType = new Map<string, { status: number; from: string }>();

function assertProblem(
  res: HttpResult,
  status: number,
  kind: string,
  label: string,
): Record<string, unknown> {
  const text = res.body.toString("utf8");
  const shown = text.length > 300 ? `${text.slice(0, 300)}...` : text;
  assert.equal(res.status, status, `${label}: expected HTTP ${status}, got ${res.status}: ${shown}`);
  assert.match(
    String(res.headers["content-type"] ?? ""),
    /^application\/problem\+json\s*(;|$)/,
    `${label}: content-type`,
  );
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch {
    assert.fail(`${label}: the problem body is not JSON: ${text}`);
  }
  const { type, title, detail } = doc;
  assert.equal(typeof type, "string", `${label}: type must be a string: ${text}`);
  assert.doesNotThrow(() => new URL(String(type)), `${label}: type must be an absolute URI: ${type}`);
  assert.equal(typeof title, "string", `${label}: title must be a string: ${text}`);
  assert.ok(String(title).trim().length > 0, `${label}: title must not be empty`);
  assert.equal(doc.status, status, `${label}: the body's status must equal the HTTP status: ${text}`);
  assert.equal(typeof detail, "string", `${label}: detail must be a string: ${text}`);
  assert.ok(String(detail).trim().length > 0, `${label}: detail must not be empty`);

  const seen = typeOfKind.get(kind);
  if (seen) {
    assert.equal(type, seen.type, `${label}: kind "${kind}" already had type ${seen.type} (${seen.from})`);
    assert.equal(title, seen.title, `${label}: type ${seen.type} already had title "${seen.title}"`);
  } else {
    typeOfKind.set(kind, { type: String(type), title: String(title), from: label });
  }
  const typeSeen = statusOfType.get(String(type));
  if (typeSeen) {
    assert.equal(status, typeSeen.status, `${label}: type ${type} was used with ${typeSeen.status} too`);
  } else {
    statusOfType.set(String(type), { status, from: label });
  }
  return doc;
}

/** Serial numbers in the inventory, sorted. */
async function inventory(ca: TestCa): Promise<string[]> {
  const res = await ca.request("/v1/certs", { token: ca.adminToken });
  assert.equal(res.status, 200, `GET /v1/certs: ${res.body.toString()}`);
  const list = res.json<{ certificates: { serial: string }[] }>().certificates;
  return list.map((c) => c.serial).sort();
}

/**
 * The inventory as the last case left it, so that a case costs one admin request instead of two. Anything that issues outside
 * runCases calls `forgetInventory`.
 */
const lastInventory = new WeakMap<TestCa, string[]>();
const forgetInventory = (ca: TestCa) => lastInventory.delete(ca);

interface Case {
  name: string;
  /** cases of one kind must share one problem type */
  kind: string;
  status: number;
  send(): Promise<HttpResult>;
}

/** Runs each case as its own test: the right problem, and the inventory unchanged. */
function runCases(getCa: () => TestCa, cases: Case[]): void {
  for (const c of cases) {
    it(`${c.status} ${c.kind}: ${c.name}`, async () => {
      const ca = getCa();
      const before = lastInventory.get(ca) ?? (await inventory(ca));
      const res = await c.send();
      const now = await inventory(ca);
      lastInventory.set(ca, now);
      assertProblem(res, c.status, c.kind, c.name);
      assert.deepEqual(now, before, `${c.name}: a certificate was stored`);
    });
  }
}

function sign(ca: TestCa, token: string | undefined, body: unknown): Promise<HttpResult> {
  return ca.request("/v1/sign", { method: "POST", body, token });
}

/** Changes the first character of a token's secret part (after `cyt_<16 hex>_`). */
function wrongSecret(token: string): string {
  const at = "cyt_".length + 16 + 1;
  const ch = token.charAt(at) === "A" ? "B" : "A";
  return token.slice(0, at) + ch + token.slice(at + 1);
}

// ---- the corpus against one CA with one token of one use ----------------------------------------

describe("POST /v1/sign: bad input is refused and leaves nothing stored", () => {
  let ca: TestCa;
  /** created with uses: 1; every bad case runs with it, and afterwards it must still have its use */
  let token: string;
  /** allows every IPv6 address and nothing else */
  let v6OnlyToken: string;
  let goodCsr: string;

  const csr = (san: string[], key: Parameters<typeof makeCsr>[0] = {}) => makeCsr({ ...key, san }).csrPem;
  const signCsr = (csrPem: string, extra: Record<string, unknown> = {}) =>
    sign(ca, token, { csr: csrPem, ...extra });

  before(async () => {
    // the credentials cases refuse more tokens from this address than the 10 a minute allowed
    // before 429 (test/integration/token-auth.test.ts tests that limit)
    ca = await startCa({ failedAuth: { limit: 1000, windowMs: 60_000 } });
    token = await ca.createToken({
      name: "corpus",
      dns: ["**.lan"],
      ip: ["10.0.0.0/24", "fd00:1::/64"],
      maxValidity: "24h",
      uses: 1,
    });
    v6OnlyToken = await ca.createToken({ name: "v6-only", ip: ["::/0"] });
    goodCsr = csr(["DNS:registry.lan", "IP:10.0.0.5", "IP:fd00:1::5"]);
  });
  after(async () => {
    await ca?.close();
  });

  const getCa = () => ca;

  describe("keys", () => {
    runCases(getCa, [
      {
        name: "RSA-1024",
        kind: "weak-key",
        status: 400,
        send: () => signCsr(csr(["DNS:a.lan"], { key: "rsa-1024" })),
      },
      {
        name: "EC P-521",
        kind: "weak-key",
        status: 400,
        send: () => signCsr(csr(["DNS:a.lan"], { key: "ec-p521" })),
      },
      {
        name: "Ed25519",
        kind: "weak-key",
        status: 400,
        send: () => signCsr(csr(["DNS:a.lan"], { key: "ed25519" })),
      },
      {
        name: "RSA-2048 with public exponent 3",
        kind: "weak-key",
        status: 400,
        send: () => signCsr(csrForKey(rsaKeyWithExponent(2048, 3), ["DNS:a.lan"])),
      },
    ]);
  });

  describe("signatures", () => {
    runCases(getCa, [
      {
        name: "EC CSR with a flipped signature byte",
        kind: "bad-signature",
        status: 400,
        send: () => signCsr(flipSignatureByte(csr(["DNS:a.lan"]))),
      },
      {
        name: "RSA CSR with a flipped signature byte",
        kind: "bad-signature",
        status: 400,
        send: () => signCsr(flipSignatureByte(csr(["DNS:a.lan"], { key: "rsa-2048" }))),
      },
      {
        name: "SAN changed after signing (registry.lan -> registrz.lan)",
        kind: "bad-signature",
        status: 400,
        send: () => signCsr(replaceInCsr(csr(["DNS:registry.lan"]), "registry.lan", "registrz.lan")),
      },
      {
        name: "SHA-1 signed CSR (EC)",
        kind: "weak-signature-algorithm",
        status: 400,
        send: () => signCsr(csr(["DNS:a.lan"], { digest: "sha1" })),
      },
      {
        name: "SHA-1 signed CSR (RSA)",
        kind: "weak-signature-algorithm",
        status: 400,
        send: () => signCsr(csr(["DNS:a.lan"], { key: "rsa-2048", digest: "sha1" })),
      },
    ]);
  });

  describe("names the token does not allow", () => {
    const outside: [string, string[]][] = [
      ["DNS name under another domain", ["DNS:registry.example.com"]],
      ["DNS name that is the pattern's bare suffix (lan for **.lan)", ["DNS:lan"]],
      ["DNS name that only ends in .lan somewhere inside", ["DNS:registry.lan.example.com"]],
      ["one allowed and one disallowed DNS name", ["DNS:registry.lan", "DNS:registry.example.com"]],
      ["IPv4 outside 10.0.0.0/24", ["IP:10.0.1.5"]],
      ["IPv4 next to the range", ["IP:10.0.0.5", "IP:9.255.255.255"]],
      ["IPv6 outside fd00:1::/64", ["IP:fd00:2::5"]],
      ["IPv6 loopback", ["DNS:registry.lan", "IP:::1"]],
    ];
    runCases(
      getCa,
      outside.map(([name, san]) => ({
        name,
        kind: "name-not-allowed",
        status: 403,
        send: () => signCsr(csr(san)),
      })),
    );
    runCases(getCa, [
      {
        name: "IPv4 address with a token that allows only IPv6 (::/0)",
        kind: "name-not-allowed",
        status: 403,
        send: () => sign(ca, v6OnlyToken, { csr: csr(["IP:10.0.0.5"]) }),
      },
    ]);
  });

  describe("names that are not host names or not issued at all", () => {
    const malformedNames: [string, string][] = [
      ["underscore", "DNS:bad_name.lan"],
      ["trailing dot", "DNS:registry.lan."],
      ["label starting with a hyphen", "DNS:-registry.lan"],
      ["label of 64 characters", `DNS:${"a".repeat(64)}.lan`],
      ["empty label", "DNS:registry..lan"],
      ["an IP address as a DNS name", "DNS:10.0.0.5"],
    ];
    runCases(
      getCa,
      malformedNames.map(([name, san]) => ({
        name: `malformed DNS name: ${name}`,
        kind: "malformed-name",
        status: 400,
        send: () => signCsr(csr([san])),
      })),
    );
    runCases(getCa, [
      {
        name: "wildcard *.lan with a **.lan token",
        kind: "wildcard",
        status: 403,
        send: () => signCsr(csr(["DNS:*.lan"])),
      },
      {
        name: "wildcard *.svc.lan next to a plain name",
        kind: "wildcard",
        status: 403,
        send: () => signCsr(csr(["DNS:registry.lan", "DNS:*.svc.lan"])),
      },
      { name: "CSR without any SAN", kind: "no-san", status: 400, send: () => signCsr(csr([])) },
      {
        name: "CSR with only a subject CN and no SAN",
        kind: "no-san",
        status: 400,
        send: () => signCsr(makeCsr({ subject: "/CN=registry.lan" }).csrPem),
      },
      {
        name: "email SAN",
        kind: "unsupported-san",
        status: 400,
        send: () => signCsr(csr(["email:admin@registry.lan"])),
      },
      {
        name: "email SAN next to an allowed DNS name",
        kind: "unsupported-san",
        status: 400,
        send: () => signCsr(csr(["DNS:registry.lan", "email:admin@registry.lan"])),
      },
      {
        name: "URI SAN next to an allowed DNS name",
        kind: "unsupported-san",
        status: 400,
        send: () => signCsr(csr(["DNS:registry.lan", "URI:https://registry.lan/"])),
      },
    ]);
  });

  describe("bodies", () => {
    const big = () => JSON.stringify({ csr: `${goodCsr}${" ".repeat(70 * 1024)}` });
    runCases(getCa, [
      {
        name: "body over 64 KiB, chunked",
        kind: "too-large",
        status: 413,
        send: () => ca.request("/v1/sign", { method: "POST", raw: big(), token }),
      },
      {
        name: "body over 64 KiB, with Content-Length",
        kind: "too-large",
        status: 413,
        send: () => {
          const raw = big();
          return ca.request("/v1/sign", {
            method: "POST",
            raw,
            token,
            headers: { "content-length": String(Buffer.byteLength(raw)) },
          });
        },
      },
    ]);
    const rawBodies: [string, string][] = [
      ["body not JSON", "csr=-----BEGIN CERTIFICATE REQUEST-----"],
      ["empty body", ""],
      ["JSON truncated", '{"csr": "-----BEGIN'],
    ];
    runCases(
      getCa,
      rawBodies.map(([name, raw]) => ({
        name,
        kind: "malformed-body",
        status: 400,
        send: () => ca.request("/v1/sign", { method: "POST", raw, token }),
      })),
    );
    const jsonBodies: [string, () => unknown][] = [
      ["JSON null", () => null],
      ["JSON array", () => [goodCsr]],
      ["JSON string", () => goodCsr],
      ["JSON without csr", () => ({ validity: "1h" })],
      ["csr empty", () => ({ csr: "" })],
      ["csr a number", () => ({ csr: 42 })],
      ["csr an array of PEMs", () => ({ csr: [goodCsr] })],
      ["unknown field", () => ({ csr: goodCsr, dns: ["registry.lan"] })],
      ["validity a number", () => ({ csr: goodCsr, validity: 3600 })],
    ];
    runCases(
      getCa,
      jsonBodies.map(([name, body]) => ({
        name,
        kind: "malformed-body",
        status: 400,
        send: () => sign(ca, token, body()),
      })),
    );
    runCases(getCa, [
      {
        name: "unknown field __proto__",
        kind: "malformed-body",
        status: 400,
        send: () =>
          ca.request("/v1/sign", {
            method: "POST",
            raw: `{"csr": ${JSON.stringify(goodCsr)}, "__proto__": {"validity": "1h"}}`,
            token,
          }),
      },
    ]);
  });

  describe("the csr field", () => {
    const notOnePem: [string, () => string][] = [
      ["not PEM (bare base64)", () => csrToDer(goodCsr).toString("base64")],
      ["not PEM (text)", () => "registry.lan"],
      ["two CSR blocks", () => goodCsr + csr(["DNS:other.lan"])],
      ["a CERTIFICATE block, not a CSR", () => toPem(csrToDer(goodCsr), "CERTIFICATE")],
      [
        "characters outside base64 inside the PEM block",
        () => goodCsr.replace(/\n([A-Za-z0-9+/]{10})/, "\n!!!!$1"),
      ],
      ["BEGIN without END", () => goodCsr.replace(/-----END[^\n]*\n?$/, "")],
    ];
    runCases(
      getCa,
      notOnePem.map(([name, value]) => ({
        name: `csr ${name}`,
        kind: "csr-not-one-pem",
        status: 400,
        send: () => signCsr(value()),
      })),
    );
    const badDer: [string, () => string][] = [
      ["garbage base64 inside the PEM block", () => toPem(Buffer.from("this is not DER at all, just text"))],
      [
        "an empty PEM block",
        () => "-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n",
      ],
      ["truncated DER", () => toPem(csrToDer(goodCsr).subarray(0, 100))],
      ["DER with a trailing byte", () => toPem(Buffer.concat([csrToDer(goodCsr), Buffer.from([0])]))],
      ["an empty SEQUENCE", () => toPem(Buffer.from([0x30, 0x00]))],
      ["a length running past the end", () => toPem(Buffer.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02]))],
    ];
    runCases(
      getCa,
      badDer.map(([name, value]) => ({
        name: `csr ${name}`,
        kind: "csr-not-der",
        status: 400,
        send: () => signCsr(value()),
      })),
    );
  });

  describe("validity", () => {
    runCases(getCa, [
      {
        name: "9999h, over the token's 24h maximum",
        kind: "bad-validity",
        status: 400,
        send: () => signCsr(goodCsr, { validity: "9999h" }),
      },
      {
        name: "24h1s, just over the maximum",
        kind: "bad-validity",
        status: 400,
        send: () => signCsr(goodCsr, { validity: "24h1s" }),
      },
      // the backdating comes out of the lifetime: 30s would arrive expired
      ...["30s", "4m59s"].map((v) => ({
        name: `${v}, under the 5m minimum`,
        kind: "bad-validity",
        status: 400,
        send: () => signCsr(goodCsr, { validity: v }),
      })),
      ...["forever", "", "1y", "-1h", "1.5h", "0s", "h", "99999999999999999999d"].map((v) => ({
        name: `invalid validity ${JSON.stringify(v)}`,
        kind: "bad-validity",
        status: 400,
        send: () => signCsr(goodCsr, { validity: v }),
      })),
    ]);
  });

  describe("credentials", () => {
    let revoked: string;
    let expired: string;
    let usedUp: string;
    let revokedAfterUse: string;

    before(async () => {
      revoked = await ca.createToken({ name: "revoked", dns: ["**.lan"] });
      await tokenRevoke({ ...ca.data, name: "revoked" });

      // expires 1 ms after it is made. On a fast machine the answer can arrive within that
      // millisecond, so wait for the clock (the thing under test) to pass the expiry.
      const res = await ca.request("/v1/tokens", {
        method: "POST",
        token: ca.adminToken,
        body: { name: "expired", dns: ["**.lan"], expires: "1ms" },
      });
      assert.equal(res.status, 201, res.body.toString());
      const created = res.json<{ token: string; expiresAt: string }>();
      expired = created.token;
      while (Date.parse(created.expiresAt) >= Date.now()) await delay(1);

      usedUp = await ca.createToken({ name: "used-up", dns: ["**.lan"], uses: 1 });
      const first = await sign(ca, usedUp, { csr: csr(["DNS:used.lan"]) });
      assert.equal(first.status, 201, first.body.toString());

      // used once (so this server has seen its secret match), then revoked with the CLI
      revokedAfterUse = await ca.createToken({ name: "revoked-after-use", dns: ["late.lan"] });
      const used = await sign(ca, revokedAfterUse, { csr: csr(["DNS:late.lan"]) });
      assert.equal(used.status, 201, used.body.toString());
      await tokenRevoke({ ...ca.data, name: "revoked-after-use" });
      forgetInventory(ca);
    });

    const withAuth = (authorization: string | undefined) => () =>
      ca.request("/v1/sign", {
        method: "POST",
        body: { csr: goodCsr },
        headers: authorization === undefined ? {} : { authorization },
      });

    runCases(getCa, [
      { name: "no Authorization header", kind: "unauthenticated", status: 401, send: withAuth(undefined) },
      { name: "Authorization: Basic", kind: "unauthenticated", status: 401, send: withAuth("Basic YTpi") },
      { name: "Bearer without a token", kind: "unauthenticated", status: 401, send: withAuth("Bearer ") },
      {
        name: "malformed token",
        kind: "unauthenticated",
        status: 401,
        send: () => sign(ca, "not-a-token", { csr: goodCsr }),
      },
      {
        name: "unknown token id",
        kind: "unauthenticated",
        status: 401,
        send: () => sign(ca, `cyt_0123456789abcdef_${"A".repeat(43)}`, { csr: goodCsr }),
      },
      {
        name: "right id, wrong secret (after the token has verified before)",
        kind: "unauthenticated",
        status: 401,
        send: () => sign(ca, wrongSecret(token), { csr: goodCsr }),
      },
      {
        name: "the token with its secret cut short",
        kind: "unauthenticated",
        status: 401,
        send: () => sign(ca, token.slice(0, -1), { csr: goodCsr }),
      },
      {
        name: "revoked token",
        kind: "unauthenticated",
        status: 401,
        send: () => sign(ca, revoked, { csr: goodCsr }),
      },
      {
        name: "token revoked after it was used, CSR it would have been allowed",
        kind: "unauthenticated",
        status: 401,
        send: () => sign(ca, revokedAfterUse, { csr: csr(["DNS:late.lan"]) }),
      },
      {
        name: "token revoked after it was used, CSR for a name outside its policy",
        kind: "unauthenticated",
        status: 401,
        send: () => sign(ca, revokedAfterUse, { csr: csr(["DNS:registry.lan"]) }),
      },
      {
        name: "token revoked after it was used, CSR with a broken signature",
        kind: "unauthenticated",
        status: 401,
        send: () => sign(ca, revokedAfterUse, { csr: flipSignatureByte(csr(["DNS:late.lan"])) }),
      },
      {
        name: "token revoked after it was used, body not JSON",
        kind: "unauthenticated",
        status: 401,
        send: () => ca.request("/v1/sign", { method: "POST", raw: "{not json", token: revokedAfterUse }),
      },
      {
        name: "expired token",
        kind: "unauthenticated",
        status: 401,
        send: () => sign(ca, expired, { csr: goodCsr }),
      },
      {
        name: "token with its uses exhausted",
        kind: "unauthenticated",
        status: 401,
        send: () => sign(ca, usedUp, { csr: csr(["DNS:used.lan"]) }),
      },
    ]);

    it("a 401 says how to authenticate: WWW-Authenticate: Bearer (RFC 9110 15.5.2, RFC 6750 3)", async () => {
      const res = await withAuth(undefined)();
      assert.equal(res.status, 401);
      assert.match(String(res.headers["www-authenticate"] ?? ""), /^Bearer\b/i);
    });
  });

  describe("routes", () => {
    runCases(getCa, [
      { name: "GET /v1/nope", kind: "not-found", status: 404, send: () => ca.request("/v1/nope") },
      {
        name: "POST /v1/signs",
        kind: "not-found",
        status: 404,
        send: () => ca.request("/v1/signs", { method: "POST", body: { csr: goodCsr }, token }),
      },
      {
        name: "POST /v1/sign/extra",
        kind: "not-found",
        status: 404,
        send: () => ca.request("/v1/sign/extra", { method: "POST", body: { csr: goodCsr }, token }),
      },
    ]);
  });

  it("after the whole corpus the one-use token still has its use: 201, then 401", async () => {
    const before = await inventory(ca);
    const ok = await signCsr(goodCsr);
    assert.equal(ok.status, 201, ok.body.toString());
    const issued = ok.json<{ serial: string }>();
    assert.deepEqual(await inventory(ca), [...before, issued.serial].sort());

    const again = await signCsr(csr(["DNS:registry.lan"]));
    assertProblem(again, 401, "unauthenticated", "second use of the one-use token");
    assert.deepEqual(await inventory(ca), [...before, issued.serial].sort());
  });
});

// ---- the CA's own name constraints ---------------------------------------------------------------

describe("POST /v1/sign: names outside the CA's name constraints are refused", () => {
  let ca: TestCa;
  let wideToken: string;
  let anyIpv6Token: string;

  before(async () => {
    // localhost and 127.0.0.1 are permitted too, only so that the CA's own serving certificate for
    // the test's loopback address can be issued under its constraints.
    ca = await startCa({ permitDns: ["lan", "localhost"], permitIp: ["10.0.0.0/8", "127.0.0.1/32"] });
    wideToken = await ca.createToken({
      name: "wide",
      dns: ["**.example.com", "**.lan"],
      ip: ["10.0.0.0/8", "192.168.0.0/16", "fd00::/8"],
    });
    anyIpv6Token = await ca.createToken({ name: "any-ipv6", ip: ["::/0"] });
  });
  after(async () => {
    await ca?.close();
  });

  const signWide = (san: string[]) => sign(ca, wideToken, { csr: makeCsr({ san }).csrPem });

  runCases(
    () => ca,
    [
      {
        name: "DNS name the token allows (**.example.com) but the CA may not sign",
        kind: "outside-constraints",
        status: 403,
        send: () => signWide(["DNS:registry.example.com"]),
      },
      {
        name: "DNS names inside and outside the constraints",
        kind: "outside-constraints",
        status: 403,
        send: () => signWide(["DNS:registry.lan", "DNS:registry.example.com"]),
      },
      {
        name: "IPv4 address the token allows but outside 10.0.0.0/8",
        kind: "outside-constraints",
        status: 403,
        send: () => signWide(["DNS:registry.lan", "IP:192.168.1.1"]),
      },
      {
        name: "IPv6 address when only IPv4 ranges are permitted",
        kind: "outside-constraints",
        status: 403,
        send: () => signWide(["DNS:registry.lan", "IP:fd00::1"]),
      },
      {
        name: "IPv4-mapped IPv6 address ::ffff:10.0.0.1 (16 octets, not within the 4-octet 10.0.0.0/8)",
        kind: "outside-constraints",
        status: 403,
        send: () => sign(ca, anyIpv6Token, { csr: makeCsr({ san: ["IP:::ffff:10.0.0.1"] }).csrPem }),
      },
    ],
  );

  it("a name inside the constraints is issued (the token and CA work)", async () => {
    const res = await signWide(["DNS:registry.lan", "IP:10.1.2.3"]);
    assert.equal(res.status, 201, res.body.toString());
  });
});

// ---- rate limit ----------------------------------------------------------------------------------

describe("POST /v1/sign: a token's rate limit", () => {
  let ca: TestCa;
  before(async () => {
    ca = await startCa();
  });
  after(async () => {
    await ca?.close();
  });

  it("rate 2/1h: 201, 201, then 429 with Retry-After, and nothing stored for the 429", async () => {
    const token = await ca.createToken({ name: "limited", dns: ["rate.lan"], rate: "2/1h" });
    const body = () => ({ csr: makeCsr({ san: ["DNS:rate.lan"] }).csrPem });
    const first = await sign(ca, token, body());
    assert.equal(first.status, 201, first.body.toString());
    const second = await sign(ca, token, body());
    assert.equal(second.status, 201, second.body.toString());

    const before = await inventory(ca);
    const third = await sign(ca, token, body());
    assertProblem(third, 429, "rate-limited", "third request within the hour");
    const retry = String(third.headers["retry-after"] ?? "");
    assert.match(retry, /^\d+$/, `Retry-After must be delay-seconds, got "${retry}"`);
    assert.ok(Number(retry) >= 1 && Number(retry) <= 3600, `Retry-After ${retry} must be within the hour`);
    assert.deepEqual(await inventory(ca), before, "the rate-limited request stored a certificate");
  });
});
