import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { calculateJwkThumbprint } from "jose";
import { INVENTORY_STATES } from "../../services/ca/core/inventory.js";
import { decodePem } from "../../shared/x509/pem.js";
import { type AcmeBed, startAcmeBed } from "../helpers/acme-bed.js";
import type { TestAcmeClient } from "../helpers/acme-client.js";
import type { TestCa } from "../helpers/ca.js";
import type { Http01Responder } from "../helpers/http01.js";
import { makeCsr } from "../helpers/openssl.js";
import { openTestStore } from "../helpers/test-db.js";

const ERR = "urn:ietf:params:acme:error:";
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** RFC 3339 in whole seconds, as a client writes it: "2030-01-31T12:00:00Z". */
const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
/** The same instant written with a +02:00 offset. */
const withOffset = (ms: number) => `${rfc3339(ms + 2 * HOUR).slice(0, -1)}+02:00`;
const wholeSecond = (ms: number) => Math.floor(ms / 1000) * 1000;

/** newOrder notBefore/notAfter (RFC 8555 7.4), end to end over HTTPS: echoed, issued, refused. */
describe("ACME server: notBefore and notAfter", () => {
  let ca: TestCa;
  let bed: AcmeBed;
  let responder: Http01Responder;

  before(async () => {
    bed = await startAcmeBed({ eab: { name: "win", ip: ["127.0.0.1"], maxValidity: "10d" } });
    ({ ca, responder } = bed);
  });
  after(() => bed.close());
  const newClient = () => bed.newClient();

  async function issuedCount(): Promise<number> {
    const s = await openTestStore(ca.dataDir);
    try {
      return (await s.certificates.page({ now: Date.now(), states: INVENTORY_STATES, limit: 1000 })).rows
        .length;
    } finally {
      await s.close();
    }
  }

  /** newOrder for 127.0.0.1 with `fields`, then http-01 answered: the order is ready. */
  async function readyOrder(client: TestAcmeClient, fields: Record<string, unknown>) {
    const order = await client.post(client.url("newOrder"), {
      identifiers: [{ type: "ip", value: "127.0.0.1" }],
      ...fields,
    });
    assert.equal(order.status, 201, order.body.toString());
    const o = order.json<{
      authorizations: string[];
      finalize: string;
      notBefore?: string;
      notAfter?: string;
    }>();
    const authz = await client.post(String(o.authorizations[0]), null);
    const ch = authz
      .json<{ challenges: { type: string; url: string; token: string }[] }>()
      .challenges.find((c) => c.type === "http-01");
    assert.ok(ch);
    responder.answers.set(ch.token, `${ch.token}.${await calculateJwkThumbprint(client.jwk)}`);
    assert.equal((await client.post(ch.url, {})).json().status, "valid");
    return { orderUrl: String(order.headers.location), order: o };
  }

  function csrDer(): string {
    const der = decodePem(makeCsr({ san: ["IP:127.0.0.1"] }).csrPem)[0]?.der;
    assert.ok(der);
    return Buffer.from(der).toString("base64url");
  }

  async function finalizeAndDownload(client: TestAcmeClient, finalizeUrl: string) {
    const fin = await client.post(finalizeUrl, { csr: csrDer() });
    assert.equal(fin.status, 200, fin.body.toString());
    const done = fin.json<{ status: string; certificate: string; notBefore?: string; notAfter?: string }>();
    assert.equal(done.status, "valid");
    const pem = (await client.post(done.certificate, null)).body
      .toString()
      .match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/)?.[0];
    assert.ok(pem);
    return { done, pem, cert: new X509Certificate(pem) };
  }

  test("both given: echoed in the order, and the certificate has exactly that window", async () => {
    const client = await newClient();
    const notBefore = wholeSecond(Date.now() + HOUR);
    const notAfter = notBefore + 3 * DAY;
    const { orderUrl, order } = await readyOrder(client, {
      notBefore: withOffset(notBefore),
      notAfter: rfc3339(notAfter),
    });
    // echoed as RFC 3339 in UTC, whatever offset the request used; and kept with the order
    const iso = (ms: number) => new Date(ms).toISOString();
    assert.deepEqual([order.notBefore, order.notAfter], [iso(notBefore), iso(notAfter)]);
    const read = (await client.post(orderUrl, null)).json<{ notBefore?: string; notAfter?: string }>();
    assert.deepEqual([read.notBefore, read.notAfter], [iso(notBefore), iso(notAfter)]);

    const { done, pem, cert } = await finalizeAndDownload(client, order.finalize);
    assert.deepEqual([done.notBefore, done.notAfter], [iso(notBefore), iso(notAfter)]);
    assert.equal(Date.parse(cert.validFrom), notBefore);
    assert.equal(Date.parse(cert.validTo), notAfter);
    const dates = execFileSync("openssl", ["x509", "-noout", "-dates"], { input: pem }).toString();
    assert.match(dates, new RegExp(`notBefore=${opensslDate(notBefore)}`));
    assert.match(dates, new RegExp(`notAfter=${opensslDate(notAfter)}`));
  });

  test("only notAfter: the certificate ends then and starts now (backdated as usual)", async () => {
    const client = await newClient();
    const notAfter = wholeSecond(Date.now() + 2 * DAY);
    const { order } = await readyOrder(client, { notAfter: rfc3339(notAfter) });
    assert.equal(order.notBefore, undefined);
    const { cert } = await finalizeAndDownload(client, order.finalize);
    assert.equal(Date.parse(cert.validTo), notAfter);
    const start = Date.parse(cert.validFrom);
    assert.ok(start <= Date.now() && start >= Date.now() - 6 * 60_000, cert.validFrom);
  });

  test("neither: no fields in the order, the default lifetime (today's behaviour)", async () => {
    const client = await newClient();
    const { order } = await readyOrder(client, {});
    assert.equal(order.notBefore, undefined);
    assert.equal(order.notAfter, undefined);
    const { cert } = await finalizeAndDownload(client, order.finalize);
    // the default 30 days, capped at the EAB's 10d
    assert.equal(Date.parse(cert.validTo) - Date.parse(cert.validFrom), 10 * DAY);
  });

  test("bad timestamps, a reversed or past window, too long: malformed, no order, nothing issued", async () => {
    const client = await newClient();
    const issuedBefore = await issuedCount();
    const now = wholeSecond(Date.now());
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ notBefore: "tomorrow" }, /^notBefore "tomorrow" is not an RFC 3339 date-time/],
      [
        { notAfter: "2030-02-30T00:00:00Z" },
        /^notAfter .* is not an RFC 3339 date-time \(day out of range\)/,
      ],
      [{ notAfter: rfc3339(now + DAY).replace("Z", "") }, /^notAfter .* is not an RFC 3339 date-time/],
      [{ notAfter: now + DAY }, /string/],
      [
        { notBefore: rfc3339(now + 2 * DAY), notAfter: rfc3339(now + DAY) },
        /notAfter .* must be later than notBefore/,
      ],
      [
        { notBefore: rfc3339(now - 2 * HOUR), notAfter: rfc3339(now - HOUR) },
        /notAfter .* has already passed/,
      ],
      [{ notBefore: rfc3339(now - HOUR), notAfter: rfc3339(now + DAY) }, /more than 5m before the CA's time/],
      [
        { notBefore: rfc3339(now), notAfter: rfc3339(now + 11 * DAY) },
        /validity 11d exceeds the external account binding's maximum 10d/,
      ],
      [{ notAfter: rfc3339(now + 11 * DAY) }, /more than 10d .* from now/],
      [{ notBefore: rfc3339(now + 11 * DAY) }, /more than 10d .* ahead/],
    ];
    for (const [fields, detail] of cases) {
      const res = await client.post(client.url("newOrder"), {
        identifiers: [{ type: "ip", value: "127.0.0.1" }],
        ...fields,
      });
      const label = JSON.stringify(fields);
      assert.equal(res.status, 400, `${label}: ${res.body.toString()}`);
      assert.equal(res.headers["content-type"], "application/problem+json");
      const p = res.json<{ type: string; detail: string }>();
      assert.equal(p.type, `${ERR}malformed`, label);
      assert.match(p.detail, detail, label);
    }
    const orders = await client.post(`${client.accountUrl}/orders`, null);
    assert.deepEqual(orders.json<{ orders: string[] }>().orders, []);
    assert.equal(await issuedCount(), issuedBefore);
  });

  test("checked again at finalize: a notBefore now too far behind is malformed, nothing issued", async () => {
    const client = await newClient();
    const { orderUrl, order } = await readyOrder(client, { notBefore: rfc3339(wholeSecond(Date.now())) });
    const issuedBefore = await issuedCount();
    bed.offsetMs = 10 * 60_000;
    try {
      const fin = await client.post(order.finalize, { csr: csrDer() });
      assert.equal(fin.status, 400, fin.body.toString());
      assert.equal(fin.json().type, `${ERR}malformed`);
      assert.match(String(fin.json().detail), /more than 5m before the CA's time/);
      assert.equal((await client.post(orderUrl, null)).json().status, "ready");
    } finally {
      bed.offsetMs = 0;
    }
    assert.equal(await issuedCount(), issuedBefore);
  });
});

/** `openssl x509 -dates` style: "Jan 31 12:00:00 2030 GMT" (day space-padded). */
function opensslDate(ms: number): string {
  const d = new Date(ms);
  const month = d.toUTCString().split(" ")[2];
  const day = String(d.getUTCDate()).padStart(2, " ");
  return `${month} ${day} ${d.toISOString().slice(11, 19)} ${d.getUTCFullYear()} GMT`;
}
