import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { escapeLabel } from "../../../../../services/agent/commands/run-metrics.js";
import { parseExposition } from "../../../../helpers/prometheus.js";

describe("the agent's exposition: label values", () => {
  test("backslash, double quote and newline are escaped as the text format wants, and read back the same", () => {
    const name = 'a"b\\c\nd';
    assert.equal(escapeLabel(name), 'a\\"b\\\\c\\nd');
    const { samples } = parseExposition(`m{name="${escapeLabel(name)}"} 1\n`);
    assert.equal(samples[0]?.labels.name, name);
  });
  test("an ordinary managed name is left as it is", () => {
    assert.equal(escapeLabel("registry-1.lan"), "registry-1.lan");
  });
});
