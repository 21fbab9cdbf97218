import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { finishRotation } from "../../../../../services/ca/keys/staged.js";

/** A data directory holding a committed rotation (.rotate) with this plan and one staged file. */
function committed(plan: string): string {
  const data = mkdtempSync(join(tmpdir(), "certyard-staged-"));
  mkdirSync(join(data, ".rotate"));
  writeFileSync(join(data, ".rotate", "0"), "new root\n");
  writeFileSync(join(data, ".rotate", "plan.json"), plan);
  return data;
}

test("finishRotation moves a committed plan's files into place", (t) => {
  const data = committed(JSON.stringify([{ staged: "0", path: "root.crt" }]));
  t.after(() => rmSync(data, { recursive: true, force: true }));
  assert.equal(finishRotation(data), true);
  assert.equal(readFileSync(join(data, "root.crt"), "utf8"), "new root\n");
  assert.equal(existsSync(join(data, ".rotate")), false);
});

test("finishRotation refuses a plan that is not one, and moves nothing", (t) => {
  for (const plan of [
    '{"staged":"0","path":"root.crt"}',
    '[{"staged":0,"path":"root.crt"}]',
    '[{"staged":"0"}]',
    "[null]",
  ]) {
    const data = committed(plan);
    t.after(() => rmSync(data, { recursive: true, force: true }));
    assert.throws(() => finishRotation(data), /plan\.json is not a rotation plan/, plan);
    assert.equal(existsSync(join(data, "root.crt")), false, plan);
    assert.equal(existsSync(join(data, ".rotate", "0")), true, plan);
  }
});
