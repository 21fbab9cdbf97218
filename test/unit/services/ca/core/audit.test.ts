import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import {
  type AuditEntry,
  canonicalJson,
  eventHash,
  GENESIS,
  type Json,
  sealEvent,
} from "../../../../../services/ca/core/audit.js";

/** The hash as the chain has always been defined: the canonical JSON of a fresh object. */
function reference(prevHash: string, e: AuditEntry): string {
  const body = canonicalJson({
    at: e.at,
    type: e.type,
    actor: { kind: e.actor.kind, id: e.actor.id },
    subject: e.subject,
    details: e.details,
  });
  return createHash("sha256").update(prevHash).update("\n").update(body).digest("hex");
}

const PREV = "ab".repeat(32);
const EVENTS: AuditEntry[] = [
  {
    at: 1_764_770_000_123,
    type: "certificate.issued",
    actor: { kind: "token", id: "registry" },
    subject: "0123456789abcdef0123456789abcdef",
    details: { method: "sign", names: ["registry.lan", "10.0.0.5"], notAfter: "2027-01-02T03:04:05.000Z" },
  },
  {
    at: 0,
    type: "token.created",
    actor: { kind: "cli", id: 'root "quoted" \\ back\nslash' },
    subject: null,
    details: {},
  },
  {
    at: 42,
    type: "auth.failed",
    actor: { kind: "address", id: "2001:db8::1" },
    subject: "é ☃ \u0000 \u2028",
    details: { z: 1, a: [{ y: null, b: true }], ä: -0.5, nested: { k: "v", b: [] } },
  },
];

test("sealEvent hashes the same text as the canonical JSON of the whole event", () => {
  let prev = GENESIS;
  for (const e of EVENTS) {
    const sealed = sealEvent(prev, e);
    assert.equal(sealed.hash, reference(prev, e));
    assert.equal(sealed.hash, eventHash(prev, e));
    assert.equal(sealed.details, canonicalJson(e.details));
    prev = sealed.hash;
  }
  assert.equal(sealEvent(PREV, EVENTS[0] as AuditEntry).hash, reference(PREV, EVENTS[0] as AuditEntry));
});

test("the chain's hashes and canonical text are those written before (existing chains verify)", () => {
  // computed by the code that wrote the first chains: a change of the canonical text fails here
  const written = [
    "6b4b6fa7949e6250dee2ca983056d790825be5dab12507c38c6396ecc277b3a9",
    "962abd140425e9a7c83d1642089898baf1b8c1bc9f56e9b2af3c295a89b3ad31",
    "792ad80dfdee12a8c6525ba88c9e818d329046d76ac35e9b9aad0e95c1a7b63f",
  ];
  let prev = GENESIS;
  for (const [i, e] of EVENTS.entries()) {
    prev = sealEvent(prev, e).hash;
    assert.equal(prev, written[i]);
  }
  assert.equal(
    sealEvent(GENESIS, EVENTS[2] as AuditEntry).details,
    '{"a":[{"b":true,"y":null}],"nested":{"b":[],"k":"v"},"z":1,"ä":-0.5}',
  );
  // UTF-16 code-unit order of keys, undefined keys left out, an undefined element written as nothing
  const odd = {
    b: [1, { d: undefined, c: "x" }],
    a: undefined,
    "\u{1f600}": 1,
    "\uffff": 2,
    A: -0,
    e: 1e21,
    f: [null, undefined],
  } as unknown as Json;
  assert.equal(
    canonicalJson(odd),
    '{"A":0,"b":[1,{"c":"x"}],"e":1e+21,"f":[null,],"\u{1f600}":1,"\uffff":2}',
  );
});

test("sealEvent matches the reference for rows as an edit may leave them (wrong types, undefined)", () => {
  // what a row read back from an edited database may hold: verify hashes it as it is
  const odd = [
    { ...EVENTS[0], at: "1764770000123" as unknown as number },
    { ...EVENTS[0], subject: undefined as unknown as null },
    { ...EVENTS[0], actor: { kind: "token", id: 7 as unknown as string } as AuditEntry["actor"] },
    { ...EVENTS[0], details: { value: "not an object" as Json, gone: undefined as unknown as Json } },
  ] as AuditEntry[];
  for (const e of odd) assert.equal(sealEvent(PREV, e).hash, reference(PREV, e));
});

test("any change to an event changes its hash", () => {
  const e = EVENTS[0] as AuditEntry;
  const h = eventHash(PREV, e);
  assert.notEqual(eventHash(GENESIS, e), h);
  assert.notEqual(eventHash(PREV, { ...e, at: e.at + 1 }), h);
  assert.notEqual(eventHash(PREV, { ...e, subject: null }), h);
  assert.notEqual(eventHash(PREV, { ...e, actor: { kind: "admin", id: e.actor.id } }), h);
  assert.notEqual(eventHash(PREV, { ...e, details: { ...e.details, method: "renew" } }), h);
});
