import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  afterValidation,
  authzStatus,
  challengeTypesFor,
  orderStatus,
} from "../../../../../../services/ca/core/acme/state.js";
import type { AuthzRecord } from "../../../../../../services/ca/core/acme/types.js";

const authz = (over: Partial<AuthzRecord> = {}): AuthzRecord => ({
  id: "a",
  accountId: "acc",
  identifier: { type: "dns", value: "x.lan" },
  status: "pending",
  expires: 1000,
  challenges: [
    { type: "http-01", token: "t1", status: "pending" },
    { type: "dns-01", token: "t2", status: "pending" },
  ],
  ...over,
});

describe("ACME state (RFC 8555 7.1.6)", () => {
  test("authorizations expire while pending or valid, not once invalid", () => {
    assert.equal(authzStatus(authz(), 999), "pending");
    assert.equal(authzStatus(authz(), 1000), "expired");
    assert.equal(authzStatus(authz({ status: "valid" }), 2000), "expired");
    assert.equal(authzStatus(authz({ status: "invalid" }), 2000), "invalid");
  });

  test("order status from its authorizations", () => {
    const o = { status: "pending" as const, expires: 5000 };
    assert.equal(orderStatus(o, ["pending", "valid"], 0), "pending");
    assert.equal(orderStatus(o, ["valid", "valid"], 0), "ready");
    assert.equal(orderStatus(o, ["valid", "invalid"], 0), "invalid");
    assert.equal(orderStatus(o, ["pending", "expired"], 0), "invalid");
    assert.equal(orderStatus(o, ["deactivated"], 0), "invalid");
    assert.equal(orderStatus(o, ["valid"], 5000), "invalid", "an expired order is invalid");
    assert.equal(orderStatus({ ...o, status: "processing" }, ["valid"], 0), "processing");
    assert.equal(
      orderStatus({ ...o, status: "valid" }, ["expired"], 9999),
      "valid",
      "issued orders stay valid",
    );
  });

  test("one valid challenge makes the authorization valid; a failure makes it invalid", () => {
    const ok = afterValidation(authz(), "http-01", { ok: true, at: 42 });
    assert.equal(ok.status, "valid");
    assert.deepEqual(
      ok.challenges.map((c) => c.status),
      ["valid", "pending"],
    );
    assert.equal(ok.challenges[0]?.validated, 42);
    const bad = afterValidation(authz(), "dns-01", { ok: false, error: { type: "x" } });
    assert.equal(bad.status, "invalid");
    assert.deepEqual(bad.challenges[1]?.error, { type: "x" });
  });

  test("IP identifiers get no dns-01 (RFC 8738 7)", () => {
    assert.deepEqual(challengeTypesFor("ip"), ["http-01", "tls-alpn-01"]);
    assert.ok(challengeTypesFor("dns").includes("dns-01"));
  });
});
