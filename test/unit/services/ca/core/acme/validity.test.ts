import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  issuanceWindow,
  MAX_BACKDATE_MS,
  parseRequestedWindow,
  parseRfc3339,
} from "../../../../../../services/ca/core/acme/validity.js";
import { BACKDATE_MS } from "../../../../../../services/ca/core/policy.js";
import { isAcmeProblem } from "../../../../../../shared/problem.js";

const DAY = 86_400_000;
const NOW = Date.parse("2030-06-15T12:00:00.250Z");

function malformed(fn: () => unknown, detail: RegExp) {
  assert.throws(fn, (e) => isAcmeProblem(e) && e.acmeType === "malformed" && detail.test(e.message));
}

describe("ACME newOrder notBefore/notAfter (RFC 8555 7.4)", () => {
  test("RFC 3339 date-times: offsets, lower case, fractions dropped to whole seconds", () => {
    const t = Date.parse("2030-01-31T12:00:00Z");
    assert.equal(parseRfc3339("notBefore", "2030-01-31T12:00:00Z"), t);
    assert.equal(parseRfc3339("notBefore", "2030-01-31t12:00:00z"), t);
    assert.equal(parseRfc3339("notBefore", "2030-01-31T14:30:00+02:30"), t);
    assert.equal(parseRfc3339("notBefore", "2030-01-31T07:00:00-05:00"), t);
    assert.equal(parseRfc3339("notBefore", "2030-01-31T12:00:00.999999Z"), t);
    assert.equal(parseRfc3339("notBefore", "2028-02-29T00:00:00Z"), Date.parse("2028-02-29T00:00:00Z"));
    assert.equal(parseRfc3339("x", "0050-01-01T00:00:00Z"), Date.parse("0050-01-01T00:00:00Z"));
  });

  test("anything else is malformed, naming the field", () => {
    for (const bad of [
      "tomorrow",
      "2030-01-31",
      "2030-01-31T12:00:00",
      "2030-01-31 12:00:00Z",
      "2030-01-31T12:00Z",
      "1767225600",
      "2030-13-01T00:00:00Z",
      "2030-02-29T00:00:00Z",
      "2030-04-31T00:00:00Z",
      "2030-01-31T24:00:00Z",
      "2030-01-31T23:59:60Z",
      "2030-01-31T12:00:00+24:00",
      "Thu, 31 Jan 2030 12:00:00 GMT",
    ]) {
      malformed(() => parseRequestedWindow({ notAfter: bad }), /^notAfter ".*" is not an RFC 3339 date-time/);
    }
  });

  test("no window asked: null, the authority's default applies", () => {
    assert.equal(issuanceWindow({ notBefore: null, notAfter: null }, 30 * DAY, NOW), null);
  });

  test("both given: issued exactly as asked", () => {
    const w = { notBefore: NOW + 3_600_000 - 250, notAfter: NOW + 3 * DAY - 250 };
    assert.deepEqual(issuanceWindow(w, 30 * DAY, NOW), {
      notBefore: new Date(w.notBefore),
      notAfter: new Date(w.notAfter),
    });
    // exactly the maximum is allowed
    const full = { notBefore: NOW - 250, notAfter: NOW - 250 + 30 * DAY };
    assert.equal(issuanceWindow(full, 30 * DAY, NOW)?.notAfter.getTime(), full.notAfter);
  });

  test("only notBefore: the default lifetime, capped by the maximum", () => {
    const nb = NOW - 250;
    assert.equal(
      issuanceWindow({ notBefore: nb, notAfter: null }, 90 * DAY, NOW)?.notAfter.getTime(),
      nb + 30 * DAY,
    );
    assert.equal(issuanceWindow({ notBefore: nb, notAfter: null }, DAY, NOW)?.notAfter.getTime(), nb + DAY);
  });

  test("only notAfter: backdated like any certificate, later if the maximum needs it", () => {
    const short = issuanceWindow({ notBefore: null, notAfter: NOW + DAY }, 30 * DAY, NOW);
    assert.equal(short?.notBefore.getTime(), NOW - 250 - BACKDATE_MS);
    // notAfter = now + max: no backdating, so the lifetime stays within the maximum
    const full = issuanceWindow({ notBefore: null, notAfter: NOW - 250 + 30 * DAY }, 30 * DAY, NOW);
    assert.equal(full?.notBefore.getTime(), NOW - 250);
    malformed(
      () => issuanceWindow({ notBefore: null, notAfter: NOW + 31 * DAY }, 30 * DAY, NOW),
      /more than 30d .* from now/,
    );
  });

  test("reversed or empty window, past notAfter", () => {
    malformed(
      () => issuanceWindow({ notBefore: NOW + DAY, notAfter: NOW + 3_600_000 }, 30 * DAY, NOW),
      /notAfter .* must be later than notBefore/,
    );
    malformed(
      () => issuanceWindow({ notBefore: NOW + DAY, notAfter: NOW + DAY }, 30 * DAY, NOW),
      /must be later than notBefore/,
    );
    malformed(
      () => issuanceWindow({ notBefore: NOW - 120_000, notAfter: NOW - 60_000 }, 30 * DAY, NOW),
      /has already passed/,
    );
    malformed(() => issuanceWindow({ notBefore: null, notAfter: NOW - 1000 }, 30 * DAY, NOW), /passed/);
  });

  test("backdating: up to MAX_BACKDATE_MS, not more", () => {
    const ok = issuanceWindow({ notBefore: NOW - MAX_BACKDATE_MS, notAfter: NOW + DAY }, 30 * DAY, NOW);
    assert.equal(ok?.notBefore.getTime(), NOW - MAX_BACKDATE_MS);
    malformed(
      () => issuanceWindow({ notBefore: NOW - MAX_BACKDATE_MS - 1000, notAfter: NOW + DAY }, 30 * DAY, NOW),
      /is more than 5m before the CA's time/,
    );
  });

  test("too long, or starting too far ahead", () => {
    malformed(
      () => issuanceWindow({ notBefore: NOW, notAfter: NOW + 30 * DAY + 1000 }, 30 * DAY, NOW),
      /validity 30d1s exceeds the external account binding's maximum 30d/,
    );
    const ahead = issuanceWindow({ notBefore: NOW + 30 * DAY, notAfter: NOW + 40 * DAY }, 30 * DAY, NOW);
    assert.equal(ahead?.notBefore.getTime(), NOW + 30 * DAY);
    malformed(
      () => issuanceWindow({ notBefore: NOW + 31 * DAY, notAfter: NOW + 40 * DAY }, 30 * DAY, NOW),
      /more than 30d .* ahead/,
    );
  });
});
