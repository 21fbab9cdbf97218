import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatDuration, parseDuration } from "../../../shared/duration.js";
import { InputError } from "../../../shared/errors.js";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe("parseDuration", () => {
  const cases: Array<[string, number]> = [
    ["30s", 30 * SECOND],
    ["15m", 15 * MINUTE],
    ["24h", 24 * HOUR],
    ["90d", 90 * DAY],
    ["1h30m", HOUR + 30 * MINUTE],
    ["1w", 7 * DAY],
    ["250ms", 250],
    ["1m1ms", MINUTE + 1],
    ["2d12h", 2 * DAY + 12 * HOUR],
    ["0s", 0],
  ];
  for (const [text, ms] of cases) {
    test(`"${text}" is ${ms} ms`, () => {
      assert.equal(parseDuration(text), ms);
    });
  }

  test("surrounding whitespace is ignored", () => {
    assert.equal(parseDuration("  15m\n"), 15 * MINUTE);
  });

  test("repeated units add up", () => {
    assert.equal(parseDuration("1h1h"), 2 * HOUR);
  });

  const invalid = ["", "   ", "10", "5x", "h", "-1h", "1.5h", "1h 30m", "1H", "h1", "1hm"];
  for (const text of invalid) {
    test(`${JSON.stringify(text)} is rejected with an InputError`, () => {
      assert.throws(() => parseDuration(text), InputError);
    });
  }

  test("the error names the offending input", () => {
    assert.throws(() => parseDuration("5x"), /"5x"/);
  });

  test("a total beyond the safe integer range is rejected", () => {
    assert.throws(() => parseDuration("99999999999999999w"), /too large/);
  });
});

describe("formatDuration", () => {
  const cases: Array<[number, string]> = [
    [0, "0s"],
    [45 * SECOND, "45s"],
    [15 * MINUTE, "15m"],
    [HOUR + 30 * MINUTE, "1h30m"],
    [90 * DAY, "90d"],
    [DAY, "1d"],
    [7 * DAY, "7d"],
    [1500, "1s500ms"],
    [DAY + HOUR + MINUTE + SECOND + 1, "1d1h1m1s1ms"],
    [36 * HOUR, "1d12h"],
  ];
  for (const [ms, text] of cases) {
    test(`${ms} ms is "${text}"`, () => {
      assert.equal(formatDuration(ms), text);
    });
  }
});

describe("round trips", () => {
  test("parseDuration(formatDuration(ms)) === ms", () => {
    const values = [
      0,
      1,
      999,
      SECOND,
      59 * SECOND,
      MINUTE + 1,
      HOUR + 30 * MINUTE,
      23 * HOUR + 59 * MINUTE + 59 * SECOND + 999,
      30 * DAY,
      397 * DAY,
      3650 * DAY + 7,
    ];
    for (const ms of values) assert.equal(parseDuration(formatDuration(ms)), ms, `for ${ms} ms`);
  });

  test("canonical texts survive parse then format unchanged", () => {
    for (const text of ["30s", "15m", "90d", "1h30m", "500ms", "1d1h1m1s1ms", "2d12h"]) {
      assert.equal(formatDuration(parseDuration(text)), text);
    }
  });

  test("non-canonical texts format to their shortest exact form", () => {
    assert.equal(formatDuration(parseDuration("24h")), "1d");
    assert.equal(formatDuration(parseDuration("1w")), "7d");
    assert.equal(formatDuration(parseDuration("90m")), "1h30m");
    assert.equal(formatDuration(parseDuration("1000ms")), "1s");
  });
});
