import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultWorkers } from "../../../../../services/ca/cli/serve.js";
import { missingV8Flags, SERVE_V8_FLAGS } from "../../../../../services/ca/cli/v8-flags.js";

test("serve's default process count: one per two cores, at least one, at most four", () => {
  const got = [1, 2, 3, 4, 6, 8, 16, 64].map(defaultWorkers);
  assert.deepEqual(got, [1, 1, 1, 2, 3, 4, 4, 4]);
});

test("the V8 flags are added unless the operator gave a semi-space size of their own", () => {
  assert.deepEqual(missingV8Flags([], undefined), SERVE_V8_FLAGS);
  assert.deepEqual(missingV8Flags(["--enable-source-maps"], "--no-warnings"), SERVE_V8_FLAGS);
  assert.deepEqual(missingV8Flags(["--max-semi-space-size=8"], undefined), []);
  assert.deepEqual(missingV8Flags([], "--max-semi-space-size=2"), []);
  // after serve restarted itself with them, it finds them and does not restart again
  assert.deepEqual(missingV8Flags(SERVE_V8_FLAGS, undefined), []);
});
