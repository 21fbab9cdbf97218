import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { defaultLogFormat, textLine } from "../../../shared/log-format.js";

describe("log lines for people", () => {
  test("text on a terminal, json otherwise", () => {
    assert.equal(defaultLogFormat(true), "text");
    assert.equal(defaultLogFormat(false), "json");
  });

  test("a pino line as text: name, level unless info, message, then the fields that are not pino's own", () => {
    const base = { time: 1, pid: 7, hostname: "h", name: "certyard-ca" };
    assert.equal(
      textLine(JSON.stringify({ ...base, level: 30, msg: "listening", url: "https://ca.lan:8443" })),
      "certyard-ca: listening (url=https://ca.lan:8443)",
    );
    assert.equal(
      textLine(JSON.stringify({ ...base, level: 40, msg: "skipped", container: "registry", n: 2 })),
      "certyard-ca: warning: skipped (container=registry, n=2)",
    );
    assert.equal(
      textLine(JSON.stringify({ ...base, level: 50, msg: "failed", err: { message: "no space left" } })),
      'certyard-ca: error: failed (err="no space left")',
    );
    assert.equal(
      textLine(JSON.stringify({ ...base, level: 30, msg: "a b", why: "two words" })),
      'certyard-ca: a b (why="two words")',
    );
  });

  test("a line that is not JSON is passed through", () => {
    assert.equal(textLine("plain\n"), "plain");
  });
});
