import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { defaultWorkers } from "../../../../../services/ca/cli/serve.js";
import {
  missingOpenSslFlags,
  missingV8Flags,
  SERVE_OPENSSL_CONFIG,
  SERVE_V8_FLAGS,
} from "../../../../../services/ca/cli/v8-flags.js";

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

test("openssl/serve.cnf is given unless the operator chose an OpenSSL configuration (issue 16)", () => {
  const flag = `--openssl-config=${SERVE_OPENSSL_CONFIG}`;
  assert.ok(existsSync(SERVE_OPENSSL_CONFIG), SERVE_OPENSSL_CONFIG);
  assert.match(readFileSync(SERVE_OPENSSL_CONFIG, "utf8"), /^NumTickets = 0$/m);
  assert.deepEqual(missingOpenSslFlags([], undefined, undefined), [flag]);
  assert.deepEqual(missingOpenSslFlags(["--enable-source-maps"], "--no-warnings", undefined), [flag]);
  assert.deepEqual(missingOpenSslFlags([], undefined, "/etc/ssl/own.cnf"), []);
  assert.deepEqual(missingOpenSslFlags(["--openssl-config=/etc/ssl/own.cnf"], undefined, undefined), []);
  assert.deepEqual(missingOpenSslFlags([], "--openssl-shared-config", undefined), []);
  assert.deepEqual(missingOpenSslFlags([], undefined, undefined, "/nonexistent/serve.cnf"), []);
  // after serve restarted itself with it, it finds it and does not restart again
  assert.deepEqual(missingOpenSslFlags([flag], undefined, undefined), []);
});
