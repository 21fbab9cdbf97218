import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { NODE_MAJOR, tooOldNode } from "../../../shared/node-version.js";

describe("the node version check", () => {
  test("refuses an older major in one line, naming both versions and the binary", () => {
    const refusal = tooOldNode("v20.20.2", "/usr/bin/node");
    assert.equal(refusal, "certyard needs Node.js 24 or newer; this is Node.js v20.20.2 (/usr/bin/node)");
    assert.match(tooOldNode("v23.11.0", "/x") ?? "", /needs Node\.js 24/);
  });

  test("accepts this major and newer ones", () => {
    assert.equal(tooOldNode("v24.0.0", "/x"), undefined);
    assert.equal(tooOldNode("v26.12.1", "/x"), undefined);
    assert.equal(tooOldNode(process.version, process.execPath), undefined);
  });

  test("NODE_MAJOR is package.json's engines", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../../../package.json", import.meta.url), "utf8"));
    assert.equal(pkg.engines.node, `>=${NODE_MAJOR}`);
  });
});
