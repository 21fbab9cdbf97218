import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { calculateJwkThumbprint } from "jose";
import { tokenRevoke } from "../../services/ca/cli/admin-cmds.js";
import { eabCreate, eabRevoke } from "../../services/ca/cli/eab-cmds.js";
import type { IssuedCertificate as Issued } from "../../shared/api.js";
import { decodePem } from "../../shared/x509/pem.js";
import { type AcmeBed, startAcmeBed } from "../helpers/acme-bed.js";
import { TestAcmeClient } from "../helpers/acme-client.js";
import { startCa, type TestCa } from "../helpers/ca.js";
import { makeCsr } from "../helpers/openssl.js";

const FORBIDDEN = "https://certyard.dev/problems/forbidden";
const ACME_ERR = "urn:ietf:params:acme:error:";

/** Issue 14, "Authority that outlives its revocation": what /v1/renew and ACME's EABs refuse now. */
describe("renewal: revoked tokens, superseded certificates, certificates not issued through tokens", () => {
  let ca: TestCa;
  before(async () => {
    ca = await startCa();
  });
  after(() => ca.close());

  async function enrol(token: string) {
    const csr = makeCsr({ san: ["DNS:registry.lan"] });
    const res = await ca.request("/v1/sign", { body: { csr: csr.csrPem }, token });
    assert.equal(res.status, 201, res.body.toString());
    return { cert: res.json<Issued>().fullchain, key: csr.keyPem };
  }
  const renew = (held: { cert: string; key: string }) =>
    ca.request("/v1/renew", { method: "POST", cert: held.cert, key: held.key });

  test("revoking a token stops renewals of the certificates it issued (before: they renewed on)", async () => {
    const token = await ca.createToken({ name: "doomed", dns: ["registry.lan"] });
    const first = await enrol(token);
    const renewed = await renew(first);
    assert.equal(renewed.status, 201, "renewal works while the token stands");
    await tokenRevoke({ ...ca.data, name: "doomed" });
    const refused = await renew({ cert: renewed.json<Issued>().fullchain, key: first.key });
    assert.equal(refused.status, 403, refused.body.toString());
    assert.equal(refused.json().type, FORBIDDEN);
    assert.match(String(refused.json().detail), /token .* has been revoked/);
  });

  test("a renewed certificate is superseded: it cannot renew again, its successor can (before: any number of times)", async () => {
    const token = await ca.createToken({ name: "renewer", dns: ["registry.lan"] });
    const first = await enrol(token);
    const second = await renew(first);
    assert.equal(second.status, 201);
    const again = await renew(first);
    assert.equal(again.status, 403, again.body.toString());
    assert.equal(again.json().type, FORBIDDEN);
    assert.match(String(again.json().detail), /renewed already/);
    const successor = await renew({ cert: second.json<Issued>().fullchain, key: first.key });
    assert.equal(successor.status, 201, successor.body.toString());
  });

  test("the CA's own serving certificate cannot renew through /v1/renew (before: 201)", async () => {
    const tls = join(ca.dataDir, "tls");
    const res = await renew({
      cert: readFileSync(join(tls, "server.crt"), "utf8"),
      key: readFileSync(join(tls, "server.key"), "utf8"),
    });
    assert.equal(res.status, 403, res.body.toString());
    assert.equal(res.json().type, FORBIDDEN);
    assert.match(String(res.json().detail), /not issued through an enrolment token/);
  });
});

describe("ACME: certificates stay with ACME; EABs bind a counted number of accounts and can be revoked", () => {
  let bed: AcmeBed;
  before(async () => {
    bed = await startAcmeBed({ eab: { name: "hard", dns: ["localhost"], ip: ["127.0.0.1"] } });
  });
  after(() => bed.close());

  const csr = () => {
    const c = makeCsr({ san: ["IP:127.0.0.1"] });
    const der = decodePem(c.csrPem)[0]?.der;
    assert.ok(der);
    return { der, keyPem: c.keyPem };
  };
  const answer = (token: string, keyAuthorization: string) =>
    bed.responder.answers.set(token, keyAuthorization);
  const client = () => TestAcmeClient.create(`${bed.ca.url}/acme/directory`, bed.ca.rootPem);
  const bind = async (name: string, accounts?: string) =>
    (await eabCreate({ ...bed.ca.data, name, ip: ["127.0.0.1"], ...(accounts ? { accounts } : {}) })).split(
      " ",
    ) as [string, string];

  test("a certificate issued over ACME cannot renew through /v1/renew (before: 201, with no new validation)", async () => {
    const c = await bed.newClient();
    const key = csr();
    const { leafPem } = await c.issue({ type: "ip", value: "127.0.0.1" }, key.der, answer);
    const res = await bed.ca.request("/v1/renew", { method: "POST", cert: leafPem, key: key.keyPem });
    assert.equal(res.status, 403, res.body.toString());
    assert.equal(res.json().type, FORBIDDEN);
  });

  test("an EAB binds one account by default, or as many as --accounts says (before: any number)", async () => {
    const [kid, hmac] = await bind("single");
    assert.equal((await (await client()).register(kid, hmac)).status, 201);
    const second = await (await client()).register(kid, hmac);
    assert.equal(second.status, 403, second.body.toString());
    assert.equal(second.json().type, `${ACME_ERR}unauthorized`);
    assert.match(String(second.json().detail), /binds at most 1 account/);

    const [kid2, hmac2] = await bind("pair", "2");
    assert.equal((await (await client()).register(kid2, hmac2)).status, 201);
    assert.equal((await (await client()).register(kid2, hmac2)).status, 201);
    assert.equal((await (await client()).register(kid2, hmac2)).status, 403);
  });

  test("finalize checks that the account's EAB is still valid (before: it issued)", async () => {
    const [kid, hmac] = await bind("late");
    const c = await client();
    assert.equal((await c.register(kid, hmac)).status, 201);
    const order = await c.post(c.url("newOrder"), { identifiers: [{ type: "ip", value: "127.0.0.1" }] });
    assert.equal(order.status, 201, order.body.toString());
    const o = order.json<{ authorizations: string[]; finalize: string }>();
    const authz = await c.post(String(o.authorizations[0]), null);
    const ch = authz
      .json<{ challenges: { type: string; url: string; token: string }[] }>()
      .challenges.find((x) => x.type === "http-01");
    assert.ok(ch);
    answer(ch.token, `${ch.token}.${await calculateJwkThumbprint(c.jwk)}`);
    assert.equal((await c.post(ch.url, {})).json().status, "valid");
    await eabRevoke({ ...bed.ca.data, name: "late" });
    const fin = await c.post(o.finalize, { csr: Buffer.from(csr().der).toString("base64url") });
    assert.equal(fin.status, 403, fin.body.toString());
    assert.equal(fin.json().type, `${ACME_ERR}unauthorized`);
    assert.match(String(fin.json().detail), /external account binding is revoked/);
  });
});

describe("ACME: account creation is rate-limited per client address", () => {
  let bed: AcmeBed;
  before(async () => {
    bed = await startAcmeBed({
      eab: { name: "flood", ip: ["127.0.0.1"] },
      limits: { newAccountLimit: 3, newAccountWindowMs: 60_000 },
    });
  });
  after(() => bed.close());

  test("after the limit, 429 with Retry-After, even with a right EAB (before: no limit)", async () => {
    const wrong = Buffer.alloc(32, 7).toString("base64url");
    for (let i = 0; i < 3; i++) {
      const c = await TestAcmeClient.create(`${bed.ca.url}/acme/directory`, bed.ca.rootPem);
      assert.equal((await c.register(bed.kid, wrong)).status, 403);
    }
    const c = await TestAcmeClient.create(`${bed.ca.url}/acme/directory`, bed.ca.rootPem);
    const res = await c.register(bed.kid, bed.hmac);
    assert.equal(res.status, 429, res.body.toString());
    assert.equal(res.json().type, `${ACME_ERR}rateLimited`);
    assert.ok(Number(res.headers["retry-after"]) >= 1);
  });
});
