import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { switchValue } from "../../../shared/cli.js";

describe("switches from the environment", () => {
  test("yes-words are true, no-words and the empty string are false, in any case and with spaces", () => {
    for (const t of ["1", "true", "YES", " on "]) assert.equal(switchValue("CERTYARD_JSON", t), true, t);
    for (const t of ["", "0", "False", "no", "OFF "]) assert.equal(switchValue("CERTYARD_JSON", t), false, t);
  });

  test("anything else is an error naming the variable", () => {
    for (const t of ["2", "y", "enabled"]) {
      assert.throws(() => switchValue("CERTYARD_AGENT_FORCE", t), /CERTYARD_AGENT_FORCE must be 1, true/);
    }
  });
});
