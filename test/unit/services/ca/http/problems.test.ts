import assert from "node:assert/strict";
import { describe, test } from "node:test";
import pino from "pino";
import { toAcmeProblem } from "../../../../../services/ca/http/acme/problems.js";
import { toProblem } from "../../../../../services/ca/http/middleware/problems.js";
import { parseDuration } from "../../../../../shared/duration.js";
import { InputError } from "../../../../../shared/errors.js";

const silent = pino({ level: "silent" });

/** The error a parser throws on input it cannot read. */
function thrownBy(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("nothing was thrown");
}

describe("errors by kind (issue 13, item 7)", () => {
  test("bad input is a 400 problem that says what was wrong", () => {
    const err = thrownBy(() => parseDuration("ten minutes"));
    assert.ok(err instanceof InputError);
    const p = toProblem(err, silent, "/v1/sign").toJSON();
    assert.equal(p.status, 400);
    assert.match(p.detail, /invalid duration "ten minutes"/);
  });

  test("an internal RangeError is a 500 that carries only a request id, not its message", () => {
    const internal = new RangeError("Invalid array length at the serial pool's offset 4096");
    const p = toProblem(internal, silent, "/v1/sign").toJSON();
    assert.equal(p.status, 500);
    assert.doesNotMatch(JSON.stringify(p), /array length|serial pool/);
    assert.equal(typeof p.requestId, "string");
  });

  test("ACME: bad input is malformed; an internal RangeError is left to the 500 handler", () => {
    const bad = toAcmeProblem(new InputError("notAfter is not a date"));
    assert.equal(bad?.toAcmeJSON()?.type, "urn:ietf:params:acme:error:malformed");
    assert.equal(toAcmeProblem(new RangeError("Invalid time value")), null);
  });
});
