import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { recordOf } from "../../../../services/agent/commands/cert.js";
import type { AgentContext } from "../../../../services/agent/commands/context.js";
import { issuerFromFlags } from "../../../../services/agent/commands/issuers.js";

const iso = (ms: number) => new Date(ms).toISOString();
const T = Date.parse("2026-12-01T00:00:00Z");
const day = 86_400_000;

describe("which issuer cert's flags choose, and what the record keeps of what it issued", () => {
  test("a token or a join string: certyard's API and its file names; --acme: an ACME CA and certbot's", () => {
    assert.deepEqual(issuerFromFlags({ token: "t" }).defaultFiles, {
      certFile: "domain.crt",
      keyFile: "domain.key",
    });
    assert.equal(issuerFromFlags({ join: "cyj1_x" }).defaultFiles.certFile, "domain.crt");
    assert.deepEqual(issuerFromFlags({ acme: "https://ca.lan/acme/directory" }).defaultFiles, {
      certFile: "fullchain.pem",
      keyFile: "privkey.pem",
    });
  });

  test("flags that do not fit together are refused before anything is opened", () => {
    assert.throws(() => issuerFromFlags({ token: "t", join: "j" }), /not both/);
    assert.throws(() => issuerFromFlags({}), /give --token \(or --join\)/);
    const acme = "https://ca.lan/acme/directory";
    assert.throws(() => issuerFromFlags({ acme, validity: "24h" }), /--validity is for certyard's token API/);
    assert.throws(() => issuerFromFlags({ acme, eabKid: "k" }), /give both --eab-kid and --eab-hmac-key/);
    assert.throws(() => issuerFromFlags({ acme: "http://ca.lan/acme/directory" }), /not https/);
    assert.throws(() => issuerFromFlags({ acme, webroot: "/srv", dns01Hook: "x" }), /only one of/);
  });

  test("renewAt: inside the issuer's renewal window when it gave one, else at a third of the lifetime left", () => {
    const ctx = { random: () => 0.5 } as unknown as AgentContext; // recordOf reads only this
    const issued = { fullchain: "", serial: "0a", notBefore: iso(T), notAfter: iso(T + 30 * day) };
    const plain = recordOf(ctx, issued);
    // two thirds of 30 days, less half of the 1.5-day jitter
    assert.equal(plain.renewAt, iso(T + 20 * day - 0.75 * day));
    assert.equal("renewalInfo" in plain, false);
    const window = { start: iso(T + 10 * day), end: iso(T + 12 * day) };
    const inWindow = recordOf(ctx, { ...issued, renewalInfo: window });
    assert.equal(inWindow.renewAt, iso(T + 11 * day));
    assert.deepEqual(inWindow.renewalInfo, window);
  });
});
